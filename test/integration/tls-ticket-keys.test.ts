// tls.ticketKeyFile: two casgate instances with the same key file resume each other's TLS sessions (TLS 1.2 tickets
// and TLS 1.3 resumption), which is what lets a client that fails over to the other node of an HA pair skip the full
// handshake. With different keys they do not. A reload keeps the keys, so it does not end resumable sessions either.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { provisionConfig } from '../../src/runtime/provision.js';
import { startMockCas, type MockCas } from '../../src/lab/mock-cas.js';
import { CertificateError } from '../../src/tls/certificate.js';
import { parseTicketKey } from '../../src/tls/ticket-keys.js';
import { baseConfig, startTestGateway, testCertificates, type TestGateway } from '../helpers/gateway-harness.js';
import { handshake } from '../helpers/tls-session.js';
import { stringify } from 'yaml';

let cas: MockCas;
const gateways: TestGateway[] = [];
let nodeA: TestGateway;
let nodeB: TestGateway;
let stranger: TestGateway;
let keyFile: string;

beforeAll(async () => {
  cas = await startMockCas({ name: 'cas1' });
  const dir = testCertificates().dir;
  keyFile = join(dir, 'ticket.key');
  writeFileSync(keyFile, randomBytes(48));
  const otherKey = join(dir, 'other-ticket.key');
  writeFileSync(otherKey, `${randomBytes(48).toString('hex')}\n`);
  const withKey = (file: string) => ({ tls: { ticketKeyFile: file }, pools: { cas: { health: { enabled: false } } } });
  nodeA = await startTestGateway([cas], withKey(keyFile));
  nodeB = await startTestGateway([cas], withKey(keyFile));
  stranger = await startTestGateway([cas], withKey(otherKey));
  gateways.push(nodeA, nodeB, stranger);
});
afterAll(async () => {
  for (const g of gateways) await g.stop();
  await cas?.close();
});

describe.each(['TLSv1.2', 'TLSv1.3'] as const)('%s', (version) => {
  test('a session made on one instance resumes on another with the same ticket key file', async () => {
    const first = await handshake(nodeA.port, version);
    expect(first.reused).toBe(false);
    const onB = await handshake(nodeB.port, version, first.session);
    expect(onB.reused).toBe(true);
  });

  test('it does not resume on an instance with a different key (a full handshake, which still succeeds)', async () => {
    const first = await handshake(nodeA.port, version);
    const elsewhere = await handshake(stranger.port, version, first.session);
    expect(elsewhere.reused).toBe(false);
  });
});

test('a reload keeps the ticket key: sessions made before it resume after it (with and without a key file)', async () => {
  for (const gw of [nodeA, stranger]) {
    const before = await handshake(gw.port, 'TLSv1.3');
    const result = gw.gateway.reload(provisionConfig(gw.gateway.config));
    expect(result.ok).toBe(true);
    expect((await handshake(gw.port, 'TLSv1.3', before.session)).reused).toBe(true);
  }
  const plain = await startTestGateway([cas], { pools: { cas: { health: { enabled: false } } } });
  gateways.push(plain);
  const before = await handshake(plain.port, 'TLSv1.2');
  expect(plain.gateway.reload(provisionConfig(plain.gateway.config)).ok).toBe(true);
  expect((await handshake(plain.port, 'TLSv1.2', before.session)).reused).toBe(true);
});

test('the key file is read in the documented forms; anything else is refused with the file named', () => {
  const raw = randomBytes(48);
  expect(parseTicketKey('k', raw).equals(raw)).toBe(true);
  expect(parseTicketKey('k', Buffer.from(`${raw.toString('hex')}\n`)).equals(raw)).toBe(true);
  expect(parseTicketKey('k', Buffer.from(`  ${raw.toString('base64')}\n`)).equals(raw)).toBe(true);
  expect(() => parseTicketKey('/etc/casgate/ticket.key', randomBytes(32))).toThrow(CertificateError);
  expect(() => parseTicketKey('/etc/casgate/ticket.key', randomBytes(32))).toThrow(/^\/etc\/casgate\/ticket\.key: .*openssl rand 48/);
  // `openssl rand -hex 32`: 64 hex digits would pass as base64 of 48 bytes; refused as the 32 bytes they are.
  expect(() => parseTicketKey('k', Buffer.from(`${randomBytes(32).toString('hex')}\n`))).toThrow(/64 hex digits, 32 bytes/);
});

test('a relative ticketKeyFile is taken from the config file\'s folder; a missing one is refused by provisioning (check, start, reload)', async () => {
  const config = parseConfig(stringify({ ...baseConfig([cas]), tls: { ticketKeyFile: 'ticket.key' } }), join(testCertificates().dir, 'casgate.yaml'), {});
  expect(config.tls.ticketKeyFile).toBe(keyFile);
  // Provisioning (check, run, reload) refuses a missing key file, naming the key and the file; nothing is swapped.
  const missing = { ...nodeB.gateway.config, tls: { ...nodeB.gateway.config.tls, ticketKeyFile: join(testCertificates().dir, 'nope.key') } };
  expect(() => provisionConfig(missing, 'casgate.yaml')).toThrow(/casgate\.yaml: tls\.ticketKeyFile: .*nope\.key: file not found/);
  // The running key stays: sessions from A still resume on B.
  const first = await handshake(nodeA.port, 'TLSv1.3');
  expect((await handshake(nodeB.port, 'TLSv1.3', first.session)).reused).toBe(true);
});
