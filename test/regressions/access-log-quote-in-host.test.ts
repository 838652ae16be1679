// Regression: the text access log wrote the Host header and the URL raw. A client sending `Host: evil" 1 2` shifted
// every field after the host: a log parser read `1` as the request and the real status as something else, so one
// client could forge or hide entries. Values are now escaped as nginx does (`"` → \x22, spaces outside quotes → \x20).
import { readFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { stringify } from 'yaml';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { parseConfigText } from '../../src/config/load.js';
import { provision } from '../../src/runtime/provision.js';
import { Gateway } from '../../src/gateway.js';
import { startMockCas, type MockCas } from '../../src/lab/mock-cas.js';
import { memoryLogger } from '../../src/logging/logger.js';
import { baseConfig, deepMerge, testCertificates } from '../helpers/gateway-harness.js';

/** The text format's fields up to the status, as a log parser splits them (quotes group the request line). */
const LINE = /^(\S+) (\S+) (\S+) "([^"]*)" (\d{3}) (\d+) (\S+)ms route=(\S+) pool=(\S+) backend=(\S+)/;

let cas1: MockCas;
let gateway: Gateway;
const log = join(mkdtempSync(join(tmpdir(), 'casgate-log-')), 'access.log');

beforeAll(async () => {
  cas1 = await startMockCas({ name: 'cas1' });
  const config = deepMerge(baseConfig([cas1]), { pools: { cas: { health: { enabled: false } } }, logging: { access: log, format: 'text' } });
  gateway = await Gateway.start(provision(parseConfigText(stringify(config), 'test.yaml', {})), { logger: memoryLogger() });
});
afterAll(async () => {
  await gateway?.stop();
  await cas1?.close();
});

/** Raw bytes: an HTTP client library would refuse or normalise the hostile head. */
function rawRequest(head: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: gateway.addresses.https.port, ca: testCertificates().ca.certPem, servername: 'mail.contoso.lab' }, () => {
      socket.write(head);
    });
    let answer = '';
    socket.on('data', (d) => (answer += d));
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
  });
}

test('a quote and spaces in Host or the URL do not shift the fields of the text access log', async () => {
  const answer = await rawRequest('GET /owa/?a="b" HTTP/1.1\r\nHost: evil" 1 2\r\nUser-Agent: x" 200 0\r\nConnection: close\r\n\r\n');
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)![1]);
  await gateway.stop();
  const lines = readFileSync(log, 'utf8').trim().split('\n');
  expect(lines).toHaveLength(1);
  const m = LINE.exec(lines[0]!);
  expect(m, lines[0]).not.toBeNull();
  expect(m![3]).toBe('evil\\x22\\x201\\x202');
  expect(m![4]).toBe('GET /owa/?a=\\x22b\\x22 HTTP/1.1');
  expect(Number(m![5])).toBe(status);
  // Since the strict Host check (issue 15) such a Host is refused with 400 BAD_HOST before routing; the line that
  // records the refusal is the one that must not lie.
  expect(status).toBe(400);
  expect(lines[0]).toContain('error=BAD_HOST');
  expect(lines[0]).toContain('ua="x\\x22 200 0"');
});
