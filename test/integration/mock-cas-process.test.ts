// The mock as a child process: the listening line carries the real (ephemeral) ports and SIGTERM ends it cleanly.
// Needs dist/ (npm test builds first).
import { afterEach, describe, expect, it } from 'vitest';
import { spawnMockCas, type SpawnedMockCas } from '../helpers/mock-cas-process.js';
import { call } from '../helpers/mock-cas-client.js';

const spawned: SpawnedMockCas[] = [];
afterEach(async () => {
  await Promise.all(spawned.splice(0).map((m) => m.kill('SIGKILL')));
});

describe('spawnMockCas', () => {
  it('reports its ports and fingerprint, serves, and exits 0 on SIGTERM', async () => {
    const m = await spawnMockCas('casp1');
    spawned.push(m);
    expect(m.httpPort).toBeGreaterThan(0);
    expect(m.httpsPort).toBeGreaterThan(0);
    expect(m.controlPort).toBeGreaterThan(0);
    expect(m.fingerprint256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    const r = await call({ port: m.httpsPort, tls: true, path: '/owa/healthcheck.htm' });
    expect([r.status, r.text, r.headers['x-feserver']]).toEqual([200, '200 OK<br/>casp1.contoso.lab', 'casp1']);
    expect(await m.kill()).toBe(0);
    await expect(call({ port: m.httpPort, path: '/owa/healthcheck.htm' })).rejects.toThrow(/ECONNREFUSED/);
  });

  it('exits on SIGINT too', async () => {
    const m = await spawnMockCas('casp2');
    spawned.push(m);
    expect(await m.kill('SIGINT')).toBe(0);
  });
});
