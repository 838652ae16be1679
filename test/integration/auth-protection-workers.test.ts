// exchange.authProtection with `workers: 2`, as an admin runs it: a real `casgate run` child (primary + 2 workers)
// in front of a mock CAS whose directory checks passwords. The primary holds the one store; workers report each
// outcome and mirror its locks. What users depend on: the limit is the configured one for the instance (not one per
// worker), the admin API on the primary shows the lock, an admin clear unlocks on every worker, and a worker started
// after the lock (a dead worker's replacement) refuses too. And the status page's last-minute counts (observed
// where the requests are, in the workers) are summed by the primary.
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startMockCas, type MockCas } from '../../src/lab/mock-cas.js';
import { startCasgate, type CasgateProcess } from '../helpers/casgate-run.js';
import { eventually } from '../helpers/eventually.js';
import { testCertificates } from '../helpers/gateway-harness.js';

const TOKEN = 'test-admin-token-0123456789';
const LIMIT = 4;
let cas: MockCas;
let casgate: CasgateProcess;

beforeAll(async () => {
  cas = await startMockCas({ name: 'cas1' });
  const certs = testCertificates();
  casgate = await startCasgate(
    {
      workers: 2,
      listen: { https: { address: '127.0.0.1', port: 0 } },
      admin: { address: '127.0.0.1', port: 0, token: TOKEN },
      certificates: [{ cert: certs.certFile, key: certs.keyFile }],
      pools: { cas: { servers: [{ name: cas.name, host: '127.0.0.1', port: cas.httpPort, httpsPort: cas.httpsPort }], health: { enabled: false } } },
      exchange: {
        pool: 'cas',
        hostnames: ['mail.contoso.lab'],
        // Address limits out of the way: this is about the per-user limit.
        authProtection: { enabled: true, userFailures: LIMIT, addressFailures: 1000, addressUsers: 1000, window: '10m', lockout: '10m' },
      },
      logging: { access: 'off' },
    },
    // Round robin: consecutive connections alternate between the two workers (the default leaves it to the kernel,
    // which may hand a short burst to one worker; then a per-worker count would not show).
    { NODE_CLUSTER_SCHED_POLICY: 'rr' },
  );
}, 60_000);
afterAll(async () => {
  await casgate?.stop();
  await cas?.close();
});

const oneShot = new Agent({ connect: { rejectUnauthorized: false }, pipelining: 0 });
/** One Basic request on a connection of its own (so that the primary hands each to a worker). */
async function basic(cred: string): Promise<{ status: number; error?: string }> {
  const res = await request(`https://127.0.0.1:${casgate.httpsPort}/EWS/Exchange.asmx`, {
    headers: { host: 'mail.contoso.lab', authorization: 'Basic ' + Buffer.from(cred).toString('base64') },
    reset: true,
    dispatcher: oneShot,
  });
  await res.body.dump();
  const error = res.headers['x-casgate-error'];
  return { status: res.statusCode, ...(typeof error === 'string' ? { error } : {}) };
}
const badPasswords = (user: string) => cas.stats().directory.badPasswords[user] ?? 0;
interface View {
  locked: { users: Array<{ key: string; failures: number }> };
  totals: Record<string, number>;
}
const view = async () => (await casgate.admin('GET', '/api/auth-protection')).json as View;
const workers = async () =>
  ((await casgate.admin('GET', '/api/workers')).json as { workers: Array<{ pid: number; state: string }> }).workers.filter((w) => w.state === 'serving');

describe('auth protection with workers: 2', () => {
  test('failures over many connections (both workers) lock the user at exactly the limit; the primary API shows it; an admin clear unlocks on both workers', async () => {
    expect(await workers()).toHaveLength(2);
    const before = badPasswords('alice');
    const statuses: number[] = [];
    for (let i = 0; i < 3 * LIMIT; i++) statuses.push((await basic(`alice:guess-${i}`)).status);
    // The CAS got exactly LIMIT guesses (with one store per worker it got up to 2 × LIMIT), the rest were refused.
    expect(badPasswords('alice') - before).toBe(LIMIT);
    expect(statuses).toEqual([...Array<number>(LIMIT).fill(401), ...Array<number>(2 * LIMIT).fill(429)]);
    const v = await view();
    expect(v.locked.users.find((u) => u.key === 'alice')).toMatchObject({ failures: LIMIT });
    expect(v.totals.failures).toBe(LIMIT);
    // Refusals are counted on the workers and reach the primary's totals within a second.
    await eventually(async () => (await view()).totals.refusedUser === 2 * LIMIT, { what: 'refusals counted on the primary', timeoutMs: 5_000 });
    // The right password is refused too, on both workers (two consecutive connections).
    expect(await basic('alice:Passw0rd')).toEqual({ status: 429, error: 'AUTH_USER_LOCKED' });
    expect(await basic('alice:Passw0rd')).toEqual({ status: 429, error: 'AUTH_USER_LOCKED' });

    // One scrape counts each failure once (the primary's totals; the workers hand theirs over).
    const metrics = (await casgate.admin('GET', '/metrics')).text;
    expect(metrics).toMatch(new RegExp(`^casgate_auth_failures_total ${LIMIT}$`, 'm'));
    // A reload keeps the lock (the primary's store outlives it) and the workers keep refusing.
    expect((await casgate.admin('POST', '/api/reload')).status).toBe(200);
    expect((await view()).locked.users.map((u) => u.key)).toContain('alice');
    for (let i = 0; i < 2; i++) expect((await basic('alice:Passw0rd')).status).toBe(429);

    // A worker started after the lock (the replacement of one killed) refuses as well: it got the locks at start.
    const [w1] = await workers();
    process.kill(w1!.pid, 'SIGKILL');
    await eventually(async () => {
      const now = await workers();
      return now.length === 2 && !now.some((w) => w.pid === w1!.pid);
    }, { what: 'a replacement worker serving', timeoutMs: 15_000 });
    const after = badPasswords('alice');
    for (let i = 0; i < 4; i++) expect((await basic('alice:Passw0rd')).status).toBe(429);
    expect(badPasswords('alice')).toBe(after);

    const cleared = await casgate.admin('POST', '/api/auth-protection/clear?user=alice');
    expect(cleared.json).toMatchObject({ cleared: true, user: 'alice' });
    expect((await view()).locked.users.find((u) => u.key === 'alice')).toBeUndefined();
    // Both workers let alice through again.
    for (let i = 0; i < 4; i++) expect((await basic('alice:Passw0rd')).status).toBe(200);
  }, 60_000);

  test('casgate restart (new workers, one at a time) keeps the locks: the primary holds them and hands them to each new worker', async () => {
    for (let i = 0; i < LIMIT; i++) expect((await basic(`bob:guess-${i}`)).status).toBe(401);
    expect((await basic('bob:Sup3r-Passw0rd')).status).toBe(429);
    const old = (await workers()).map((w) => w.pid);
    const restarted = await casgate.admin('POST', '/api/restart');
    expect(restarted.status).toBe(200);
    const fresh = await workers();
    expect(fresh.some((w) => old.includes(w.pid))).toBe(false);
    const before = badPasswords('bob');
    for (let i = 0; i < 4; i++) expect(await basic('bob:Sup3r-Passw0rd')).toEqual({ status: 429, error: 'AUTH_USER_LOCKED' });
    expect(badPasswords('bob')).toBe(before);
  }, 60_000);

  test("the status page's last-minute counts are the workers' requests, summed", async () => {
    type Status = { pools: Array<{ name: string; lastMinute?: { requests: number; errors: number } }> };
    const owa = async () => ((await casgate.admin('GET', '/api/status')).json as Status).pools.find((p) => p.name === 'cas/owa')!;
    const before = (await owa()).lastMinute!.requests;
    for (let i = 0; i < 6; i++) {
      const res = await request(`https://127.0.0.1:${casgate.httpsPort}/owa/`, { headers: { host: 'mail.contoso.lab' }, reset: true, dispatcher: oneShot });
      await res.body.dump();
    }
    const now = (await owa()).lastMinute!.requests;
    expect(now - before).toBe(6);
    const page = (await casgate.admin('GET', '/')).text;
    expect(page).toContain(`last minute: <span class="requests">${now} requests</span>`);
  });
});
