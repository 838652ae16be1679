// `casgate status` and `casgate backend drain|enable|disable` against a running `casgate run`: the admin listener and
// token come from the same config file, as a maintenance script on the server would use them.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startMockCas, type MockCas } from '../../src/lab/mock-cas.js';
import { baseConfig } from '../helpers/gateway-harness.js';
import { CLI, startCasgate, type CasgateProcess } from '../helpers/casgate-run.js';

const run = promisify(execFile);
let cas: MockCas[] = [];
let casgate: CasgateProcess;

/** The CLI as an admin runs it: exit code, stdout, stderr. */
async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args, '--config', casgate.file]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const stateOf = async (pool: string, server: string): Promise<string> => {
  const status = (await casgate.admin('GET', '/api/status')).json as { pools: Array<{ name: string; backends: Array<{ name: string; state: string }> }> };
  return status.pools.find((p) => p.name === pool)!.backends.find((b) => b.name === server)!.state;
};

describe('casgate status and casgate backend', () => {
  beforeAll(async () => {
    cas = await Promise.all([startMockCas({ name: 'cas1' }), startMockCas({ name: 'cas2' })]);
    const base = baseConfig(cas) as { pools: { cas: Record<string, unknown> }; exchange: Record<string, unknown> } & Record<string, unknown>;
    base.pools.cas.health = { enabled: false };
    const config = { ...base, workers: 1, admin: { address: '127.0.0.1', port: 0, token: 'cli-test-token-0123456789' } };
    casgate = await startCasgate(config);
    // A deployment names its admin port; the test's instance took a free one: the file the CLI reads says which. The
    // file also names a variable of the service's environment that an admin's shell does not have: the CLI needs only
    // the admin block.
    casgate.rewrite({ ...config, admin: { ...config.admin, port: casgate.adminPort }, exchange: { ...config.exchange, hostnames: ['${CASGATE_SERVICE_ONLY_NAME}'] } });
  });
  afterAll(async () => {
    await casgate?.stop();
    await Promise.all(cas.map((c) => c.close()));
  });

  test('status prints every pool and CAS with its state', async () => {
    const { code, stdout } = await cli('status');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^casgate \S+, up \S+/);
    expect(stdout).toMatch(/^cas\/owa +cas1 +healthy +\S+ +0 +0 +0/m);
    expect(stdout).toMatch(/^cas\/ews +cas2 +healthy /m);
  });

  test('backend drain takes a CAS out of one pool with the token from the config; enable brings it back', async () => {
    const drained = await cli('backend', 'drain', 'cas1', '--pool', 'cas/owa', '--timeout', '5s');
    expect(drained).toMatchObject({ code: 0, stdout: 'cas/owa: cas1 draining (0 active, 0 long-lived)\n' });
    expect(await stateOf('cas/owa', 'cas1')).toBe('draining');
    expect(await stateOf('cas/ews', 'cas1')).toBe('healthy');
    expect((await cli('status')).stdout).toMatch(/^cas\/owa +cas1 +draining /m);
    expect((await cli('backend', 'enable', 'cas1')).code).toBe(0);
    expect(await stateOf('cas/owa', 'cas1')).toBe('healthy');
  });

  test('a server nobody has, or a wrong verb, is an error with a reason', async () => {
    const unknown = await cli('backend', 'disable', 'cas9');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no pool has a server named "cas9"');
    const usage = await cli('backend', 'reboot', 'cas1');
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('expected drain, enable or disable');
  });
});
