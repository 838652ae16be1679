// TLS session ticket keys as users meet them: real `casgate run` processes (dist/cli.js), each its own config file.
// Unlike in-process gateways or the workers of one instance (node:cluster hands the first worker's ticket keys to
// every worker that joins the same listening socket, whatever casgate does), separate processes share a key only
// through casgate's own code: tls.ticketKeyFile, the primary's keys, their rotation and what a reload does to them.
// Each test here fails when that code is removed.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { startMockCas, type MockCas } from '../../src/lab/mock-cas.js';
import { startCasgate, type CasgateProcess } from '../helpers/casgate-run.js';
import { eventually } from '../helpers/eventually.js';
import { testCertificates } from '../helpers/gateway-harness.js';
import { handshake } from '../helpers/tls-session.js';

const TOKEN = 'ticket-test-token-0123456789';
let cas: MockCas;
let dir: string;
const running: CasgateProcess[] = [];

function config(tlsSection: Record<string, unknown>, workers = 1): Record<string, unknown> {
  const certs = testCertificates();
  return {
    workers,
    listen: { https: { address: '127.0.0.1', port: 0 } },
    admin: { address: '127.0.0.1', port: 0, token: TOKEN },
    certificates: [{ cert: certs.certFile, key: certs.keyFile }],
    tls: tlsSection,
    pools: { cas: { health: { enabled: false }, servers: [{ name: cas.name, host: '127.0.0.1', port: cas.httpPort, httpsPort: cas.httpsPort }] } },
    exchange: { pool: 'cas', hostnames: ['mail.contoso.lab'] },
    logging: { access: 'off' },
  };
}

/** A `casgate run` child; with workers > 1 connections are dealt round robin so that consecutive ones reach every worker. */
async function start(tlsSection: Record<string, unknown>, workers = 1): Promise<CasgateProcess> {
  const c = await startCasgate(config(tlsSection, workers), workers > 1 ? { NODE_CLUSTER_SCHED_POLICY: 'rr' } : {});
  running.push(c);
  return c;
}

function keyFile(name: string, key = randomBytes(48)): string {
  const file = join(dir, name);
  writeFileSync(file, key);
  return file;
}

beforeAll(async () => {
  cas = await startMockCas({ name: 'cas1' });
  dir = mkdtempSync(join(tmpdir(), 'casgate-tickets-'));
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((c) => c.stop()));
});
afterAll(async () => {
  await cas?.close();
});

/** `n` connections offering one session: which resumed (round robin: with 2 workers, both get several). */
async function resumes(port: number, session: Buffer, version: tls.SecureVersion = 'TLSv1.3', n = 6): Promise<boolean[]> {
  const out: boolean[] = [];
  for (let i = 0; i < n; i++) out.push((await handshake(port, version, session)).reused);
  return out;
}
const all = (n: number, v: boolean) => Array<boolean>(n).fill(v);

describe.each(['TLSv1.3', 'TLSv1.2'] as const)('%s, two instances (separate processes, separate config files)', (version) => {
  test('with the same tls.ticketKeyFile each resumes the other\'s sessions; with another file, a full handshake', async () => {
    const shared = keyFile(`shared-${version}.key`);
    const [a, b, stranger] = await Promise.all([start({ ticketKeyFile: shared }), start({ ticketKeyFile: shared }), start({ ticketKeyFile: keyFile(`other-${version}.key`) })]);
    const onA = await handshake(a.httpsPort, version);
    expect(onA.reused).toBe(false);
    expect(await resumes(b.httpsPort, onA.session, version, 2)).toEqual(all(2, true));
    const onB = await handshake(b.httpsPort, version);
    expect(await resumes(a.httpsPort, onB.session, version, 2)).toEqual(all(2, true));
    expect(await resumes(stranger.httpsPort, onA.session, version, 2)).toEqual(all(2, false));
  }, 60_000);

  test('an instance with workers uses the file\'s key in every worker: sessions cross to a single-process instance and back', async () => {
    const shared = keyFile(`cluster-${version}.key`);
    const [pair, single] = await Promise.all([start({ ticketKeyFile: shared }, 2), start({ ticketKeyFile: shared })]);
    const onSingle = await handshake(single.httpsPort, version);
    expect(await resumes(pair.httpsPort, onSingle.session, version)).toEqual(all(6, true));
    const onPair = await handshake(pair.httpsPort, version);
    expect(await resumes(single.httpsPort, onPair.session, version, 2)).toEqual(all(2, true));
  }, 60_000);
});

test('two instances without a key file do not resume each other\'s sessions (each makes its own keys)', async () => {
  const [a, b] = await Promise.all([start({}, 2), start({}, 2)]);
  const onA = await handshake(a.httpsPort, 'TLSv1.3');
  expect(await resumes(a.httpsPort, onA.session)).toEqual(all(6, true));
  expect(await resumes(b.httpsPort, onA.session)).toEqual(all(6, false));
}, 60_000);

describe('a reload changes the ticket key only when tls.ticketKeyFile changed', () => {
  test.each([1, 2])('workers: %i', async (workers) => {
    const first = keyFile(`reload-${workers}-a.key`);
    const c = await start({ ticketKeyFile: first }, workers);
    let reloads = 0;
    const reload = async () => {
      expect((await c.admin('POST', '/api/reload')).json).toEqual({ ok: true });
      reloads++;
      // The primary answers once it applied the reload; its workers apply it as the message reaches them.
      if (workers > 1) await eventually(() => (c.output().match(/configuration reloaded .*worker=/g) ?? []).length >= workers * reloads, { what: `reload ${reloads} in every worker` });
    };
    const before = await handshake(c.httpsPort, 'TLSv1.3');

    // The same file, unchanged: every worker keeps the key, sessions made before resume after.
    await reload();
    expect(await resumes(c.httpsPort, before.session)).toEqual(all(6, true));

    // The file's content replaced (the documented rotation): the new key everywhere, at once; old tickets give a full
    // handshake; an instance started with the new file resumes this one's new sessions.
    const next = randomBytes(48);
    writeFileSync(first, next);
    await reload();
    expect(await resumes(c.httpsPort, before.session)).toEqual(all(6, false));
    const other = await start({ ticketKeyFile: keyFile(`reload-${workers}-b.key`, next) });
    const onOther = await handshake(other.httpsPort, 'TLSv1.3');
    expect(await resumes(c.httpsPort, onOther.session)).toEqual(all(6, true));

    // The key file removed from the config: a key of the instance's own (the file's may have leaked), in every worker.
    c.rewrite(config({}, workers));
    await reload();
    expect(await resumes(c.httpsPort, onOther.session)).toEqual(all(6, false));
    const own = await handshake(c.httpsPort, 'TLSv1.3');
    expect(await resumes(c.httpsPort, own.session)).toEqual(all(6, true));
    // ...which later reloads keep.
    await reload();
    expect(await resumes(c.httpsPort, own.session)).toEqual(all(6, true));
  }, 90_000);
});

test('the primary rotates its keys on tls.ticketKeyRotation: every worker takes the new key, a ticket from before costs one full handshake, reloads keep the rotated key', async () => {
  const c = await start({ ticketKeyRotation: '4s' }, 2);
  const rotations = () => (c.output().match(/TLS session ticket keys rotated/g) ?? []).length;
  /** Runs `check` right after a rotation, again if another rotation came while it ran. */
  const afterRotation = async (check: () => Promise<void>) => {
    for (let attempt = 0; ; attempt++) {
      const seen = rotations();
      await eventually(() => rotations() > seen, { timeoutMs: 10_000, what: 'a key rotation' });
      // The workers apply the key the primary sends as it logs the rotation.
      await new Promise((r) => setTimeout(r, 200));
      const at = rotations();
      await check();
      if (rotations() === at || attempt === 2) return;
    }
  };
  let before!: Buffer;
  let after!: Buffer;
  await afterRotation(async () => {
    before = (await handshake(c.httpsPort, 'TLSv1.3')).session;
    expect(await resumes(c.httpsPort, before)).toEqual(all(6, true));
  });
  await afterRotation(async () => {
    // The README: the previous key is not kept (Node holds one ticket key per server); a full handshake, which succeeds.
    expect(await resumes(c.httpsPort, before)).toEqual(all(6, false));
    after = (await handshake(c.httpsPort, 'TLSv1.3')).session;
    expect(await resumes(c.httpsPort, after)).toEqual(all(6, true));
    // A reload gives each worker new TLS contexts; they keep the rotated key, not the one the worker started with.
    expect((await c.admin('POST', '/api/reload')).json).toEqual({ ok: true });
    await eventually(() => (c.output().match(/configuration reloaded .*worker=/g) ?? []).length >= 2, { what: 'the reload in both workers' });
    expect(await resumes(c.httpsPort, after)).toEqual(all(6, true));
  });
}, 90_000);

test('a rolling restart keeps the key in effect: new workers take the primary\'s rotated key, not the one the listening socket started with', async () => {
  // node:cluster hands a worker that joins the listening socket the ticket keys of the first worker that listened
  // on it: without casgate's own key handling, new workers would bring back the keys from before the rotation.
  const c = await start({ ticketKeyRotation: '2s' }, 2);
  const rotations = () => (c.output().match(/TLS session ticket keys rotated/g) ?? []).length;
  await eventually(() => rotations() >= 1, { timeoutMs: 10_000, what: 'a key rotation' });
  // No further rotation (a reload applies a new period): the key in effect now is the one to keep.
  c.rewrite(config({ ticketKeyRotation: '1h' }, 2));
  expect((await c.admin('POST', '/api/reload')).json).toEqual({ ok: true });
  const seen = rotations();
  await new Promise((r) => setTimeout(r, 300));
  const session = (await handshake(c.httpsPort, 'TLSv1.3')).session;
  expect(await resumes(c.httpsPort, session)).toEqual(all(6, true));
  const before = ((await c.admin('GET', '/api/workers')).json as { workers: Array<{ pid: number; state: string }> }).workers.filter((w) => w.state === 'serving');
  const restart = await c.admin('POST', '/api/restart');
  expect(restart.status).toBe(200);
  const after = ((await c.admin('GET', '/api/workers')).json as { workers: Array<{ pid: number; state: string }> }).workers.filter((w) => w.state === 'serving');
  expect(after.map((w) => w.pid).filter((pid) => before.some((b) => b.pid === pid))).toEqual([]);
  expect(await resumes(c.httpsPort, session)).toEqual(all(6, true));
  expect(rotations()).toBe(seen);
}, 90_000);
