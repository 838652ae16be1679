// The access log on a disk that is full (/dev/full answers every write with ENOSPC): a real `casgate run` keeps
// serving, says so once, and counts the lines it could not write; the retries every 5 s do not say it again.
// (The unit test in access-log.test.ts covers a file that becomes writable again.)
import { existsSync } from 'node:fs';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startMockCas, type MockCas } from '../../src/lab/mock-cas.js';
import { baseConfig, testCertificates } from '../helpers/gateway-harness.js';
import { startCasgate, type CasgateProcess } from '../helpers/casgate-run.js';
import { eventually } from '../helpers/eventually.js';

describe.skipIf(!existsSync('/dev/full'))('access log on a full disk', () => {
  let cas1: MockCas;
  let run: CasgateProcess;
  const client = new Agent({ connect: { ca: testCertificates().ca.certPem, servername: 'mail.contoso.lab' } });

  beforeAll(async () => {
    cas1 = await startMockCas({ name: 'cas1' });
    run = await startCasgate({ ...baseConfig([cas1]), workers: 1, logging: { access: '/dev/full' }, admin: { address: '127.0.0.1', port: 0, token: 'test-admin-token-0123456789' } });
  });
  afterAll(async () => {
    await client.close();
    await run?.stop();
    await cas1?.close();
  });

  const owa = async () => {
    const res = await request(`https://127.0.0.1:${run.httpsPort}/owa/`, { dispatcher: client, headers: { host: 'mail.contoso.lab' } });
    await res.body.dump();
    return res.statusCode;
  };
  const dropped = async () => {
    const text = await (await fetch(`http://127.0.0.1:${run.adminPort}/metrics`)).text();
    return Number(/^casgate_access_log_dropped_lines_total (\d+)/m.exec(text)?.[1] ?? NaN);
  };

  test('requests are served, the failure is logged once, and the lost lines are counted', async () => {
    for (let i = 0; i < 5; i++) expect(await owa()).toBe(302);
    await eventually(async () => (await dropped()) >= 5, { what: '5 lines counted as dropped' });
    // Past a retry (5 s): still full, still serving, still one report.
    await new Promise((r) => setTimeout(r, 5_500));
    for (let i = 0; i < 3; i++) expect(await owa()).toBe(302);
    await eventually(async () => (await dropped()) >= 8, { what: '8 lines counted as dropped' });
    expect(run.output().match(/access log write failed/g)).toHaveLength(1);
    expect(run.child.exitCode).toBeNull();
  }, 20_000);
});
