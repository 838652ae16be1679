// Each balancing policy's choice, on real Backend objects (no sockets needed): weights, slow start, source-IP
// stability and minimal movement, cookie stickiness, and the one question `available()` (draining, disabled,
// ejected, full).
import type { Dispatcher } from 'undici';
import { describe, expect, test } from 'vitest';
import type { PoolPlan } from '../../src/config/plan.js';
import { configSchema, type BalancerName, type PoolConfig } from '../../src/config/schema.js';
import { Backend } from '../../src/upstream/backend.js';
import { createBalancer } from '../../src/upstream/balancer/index.js';
import { affinityFromCookie } from '../../src/upstream/balancer/cookie.js';
import { RandomTwoBalancer } from '../../src/upstream/balancer/random-two.js';
import { originOf } from '../../src/upstream/connections.js';
import { UpstreamPool } from '../../src/upstream/pool.js';

function poolConfig(balance: BalancerName, servers: Array<{ name: string; weight?: number; maxConnections?: number }>, extra: Record<string, unknown> = {}): PoolConfig {
  const parsed = configSchema.parse({
    listen: {},
    certificates: [{ cert: 'x', key: 'y' }],
    pools: { p: { balance, servers: servers.map((s, i) => ({ host: `10.0.0.${i + 1}`, ...s })), ...extra } },
  });
  return parsed.pools.p!;
}

function makePool(balance: BalancerName, servers: Array<{ name: string; weight?: number; maxConnections?: number }>, extra: Record<string, unknown> = {}): UpstreamPool {
  const config = poolConfig(balance, servers, extra);
  const plan: PoolPlan = { name: 'p', config, mode: 'offload' };
  const backends = config.servers.map((s) => new Backend('p', s, originOf(s, 'offload', config.tls), {} as Dispatcher));
  return new UpstreamPool(plan, backends, createBalancer(config));
}

function count(pool: UpstreamPool, n: number, ctx: (i: number) => { clientIp: string; cookie?: string } = () => ({ clientIp: '192.0.2.1' })): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const b = pool.pick(ctx(i))!;
    out[b.name] = (out[b.name] ?? 0) + 1;
  }
  return out;
}

const b = (pool: UpstreamPool, name: string) => pool.find(name)!;

describe('weighted (smooth weighted round-robin)', () => {
  test('shares follow the weights exactly over a full cycle, without bursts', () => {
    const pool = makePool('weighted', [{ name: 'a', weight: 5 }, { name: 'b', weight: 1 }, { name: 'c', weight: 1 }]);
    const seq = Array.from({ length: 7 }, () => pool.pick({ clientIp: '' })!.name);
    expect(seq.sort()).toEqual(['a', 'a', 'a', 'a', 'a', 'b', 'c']);
    expect(count(pool, 700)).toEqual({ a: 500, b: 100, c: 100 });
    // Smooth: nginx's a a b a c a a cycle, never the five a's in a row that plain weighted round-robin gives.
    const run = Array.from({ length: 70 }, () => pool.pick({ clientIp: '' })!.name).join('');
    expect(run.slice(0, 7)).toBe('aabacaa');
    expect(run).not.toMatch(/aaaaa/);
  });

  test('weight 0 takes traffic only when nothing else is available', () => {
    const pool = makePool('weighted', [{ name: 'a', weight: 0 }, { name: 'b', weight: 2 }]);
    expect(count(pool, 50)).toEqual({ b: 50 });
    b(pool, 'b').disable();
    expect(count(pool, 5)).toEqual({ a: 5 });
  });
});

describe('slow start', () => {
  test('a backend back in service ramps linearly from 10% to its full weight over slowStart', () => {
    const pool = makePool('weighted', [{ name: 'a' }, { name: 'b' }], { slowStart: '10s' });
    const a = b(pool, 'a');
    expect(a.slowStartFactor(performance.now())).toBe(1); // healthy from the start: no ramp
    a.setHealth(false, 'probe failed');
    a.setHealth(true, '');
    const t0 = performance.now();
    expect(a.rampingUp).toBe(true);
    expect(a.slowStartFactor(t0)).toBeCloseTo(0.1, 1);
    expect(a.slowStartFactor(t0 + 5_000)).toBeCloseTo(0.5, 1);
    expect(a.slowStartFactor(t0 + 7_500)).toBeCloseTo(0.75, 1);
    expect(a.slowStartFactor(t0 + 10_001)).toBe(1);
  });

  test('every policy gives a ramping backend a small share at first', () => {
    for (const policy of ['weighted', 'round-robin', 'least-conn', 'random-two', 'cookie'] as const) {
      const pool = makePool(policy, [{ name: 'a' }, { name: 'b' }], { slowStart: '1h' });
      b(pool, 'a').drain(0);
      b(pool, 'a').enable();
      // least-conn and random-two balance on load: give each pick a request that stays in flight.
      const counts: Record<string, number> = {};
      for (let i = 0; i < 1000; i++) {
        const picked = pool.pick({ clientIp: `198.51.100.${i % 250}` })!;
        counts[picked.name] = (counts[picked.name] ?? 0) + 1;
        picked.active++;
      }
      expect(counts.a ?? 0, policy).toBeLessThan(200);
      expect(counts.a ?? 0, policy).toBeGreaterThan(20);
    }
  });

  test('source-ip: while a returning server ramps up only its own clients come back to it', () => {
    const pool = makePool('source-ip', [{ name: 'a' }, { name: 'b' }, { name: 'c' }], { slowStart: '1h' });
    const ips = Array.from({ length: 3000 }, (_, i) => `10.${(i >> 8) & 255}.${i & 255}.7`);
    const before = ips.map((ip) => pool.pick({ clientIp: ip })!.name);
    b(pool, 'a').setHealth(false, 'down');
    b(pool, 'a').setHealth(true, '');
    const during = ips.map((ip) => pool.pick({ clientIp: ip })!.name);
    const onA = during.filter((n) => n === 'a').length;
    expect(onA).toBeGreaterThan(0);
    expect(onA).toBeLessThan(before.filter((n) => n === 'a').length / 3);
    ips.forEach((_, i) => {
      if (during[i] === 'a') expect(before[i]).toBe('a');
      if (before[i] !== 'a') expect(during[i]).toBe(before[i]);
    });
  });
});

describe('least-conn', () => {
  test('picks the backend with the fewest requests in flight, per unit of weight', () => {
    const pool = makePool('least-conn', [{ name: 'a' }, { name: 'b' }, { name: 'c', weight: 4 }]);
    b(pool, 'a').active = 3;
    b(pool, 'b').active = 1;
    b(pool, 'c').active = 6; // (6+1)/4 = 1.75 < (1+1)/1
    expect(pool.pick({ clientIp: '' })!.name).toBe('c');
    b(pool, 'c').active = 9;
    expect(pool.pick({ clientIp: '' })!.name).toBe('b');
  });

  test('ties rotate', () => {
    const pool = makePool('least-conn', [{ name: 'a' }, { name: 'b' }]);
    expect(count(pool, 10)).toEqual({ a: 5, b: 5 });
  });
});

describe('random-two', () => {
  test('of the two drawn, the less loaded wins', () => {
    const pool = makePool('random-two', [{ name: 'a' }, { name: 'b' }, { name: 'c' }]);
    b(pool, 'a').active = 10;
    b(pool, 'b').active = 0;
    b(pool, 'c').active = 5;
    const counts = count(pool, 300);
    expect(counts.a ?? 0).toBe(0); // a loses every draw it is in
    expect(counts.b).toBeGreaterThan(counts.c ?? 0);
  });

  test('always draws two distinct candidates', () => {
    const draws = [0, 0.99, 0.5, 0.5, 0.99, 0];
    let i = 0;
    const balancer = new RandomTwoBalancer(() => draws[i++ % draws.length]!);
    const pool = makePool('random-two', [{ name: 'a' }, { name: 'b' }]);
    const backends = [...pool.backends];
    b(pool, 'a').active = 1;
    for (let k = 0; k < 3; k++) expect(balancer.pick(backends).name).toBe('b');
  });
});

describe('source-ip (rendezvous hashing)', () => {
  const ips = Array.from({ length: 2000 }, (_, i) => `172.16.${(i >> 8) & 255}.${i & 255}`);

  test('a client stays on its server while the candidates are unchanged, and clients spread evenly', () => {
    const pool = makePool('source-ip', [{ name: 'a' }, { name: 'b' }, { name: 'c' }, { name: 'd' }]);
    const first = ips.map((ip) => pool.pick({ clientIp: ip })!.name);
    expect(ips.map((ip) => pool.pick({ clientIp: ip })!.name)).toEqual(first);
    for (const name of ['a', 'b', 'c', 'd']) {
      const share = first.filter((n) => n === name).length / ips.length;
      expect(share).toBeGreaterThan(0.19);
      expect(share).toBeLessThan(0.31);
    }
  });

  test('when one server leaves only its clients move, and they come back when it returns', () => {
    const pool = makePool('source-ip', [{ name: 'a' }, { name: 'b' }, { name: 'c' }, { name: 'd' }], { slowStart: 0 });
    const before = ips.map((ip) => pool.pick({ clientIp: ip })!.name);
    b(pool, 'c').disable();
    const after = ips.map((ip) => pool.pick({ clientIp: ip })!.name);
    ips.forEach((_, i) => {
      if (before[i] !== 'c') expect(after[i]).toBe(before[i]);
      else expect(after[i]).not.toBe('c');
    });
    b(pool, 'c').enable();
    expect(ips.map((ip) => pool.pick({ clientIp: ip })!.name)).toEqual(before);
  });

  test('weights scale the share', () => {
    const pool = makePool('source-ip', [{ name: 'a', weight: 3 }, { name: 'b', weight: 1 }]);
    const onA = ips.filter((ip) => pool.pick({ clientIp: ip })!.name === 'a').length / ips.length;
    expect(onA).toBeGreaterThan(0.68);
    expect(onA).toBeLessThan(0.82);
  });
});

describe('cookie', () => {
  test('a client with a valid cookie sticks; without one, or with a stale one, it is placed by weight', () => {
    const pool = makePool('cookie', [{ name: 'a' }, { name: 'b' }]);
    const a = b(pool, 'a');
    const withCookie = (id: string) => ({ clientIp: '', cookie: `X-OWA-CANARY=1; CASGATE_AFFINITY=${id}` });
    for (let i = 0; i < 20; i++) expect(pool.pick(withCookie(a.affinityId))).toBe(a);
    expect(count(pool, 10, () => withCookie('stale'))).toEqual({ a: 5, b: 5 });
    a.disable();
    expect(pool.pick(withCookie(a.affinityId))!.name).toBe('b');
  });

  test('the policy sets its cookie when the client does not already carry the one for its server; other policies never do', () => {
    const pool = makePool('cookie', [{ name: 'a' }, { name: 'b' }], { cookieName: 'OWA_STICK' });
    const a = b(pool, 'a');
    expect(pool.setCookie(a, { clientIp: '' })).toBe(`OWA_STICK=${a.affinityId}; Path=/; Secure; HttpOnly; SameSite=Lax`);
    expect(pool.setCookie(a, { clientIp: '', cookie: `OWA_STICK=${a.affinityId}` })).toBeUndefined();
    expect(pool.setCookie(a, { clientIp: '', cookie: `OWA_STICK=${b(pool, 'b').affinityId}` })).toContain(a.affinityId);
    expect(pool.pick({ clientIp: '', cookie: `CASGATE_AFFINITY=${a.affinityId}; OWA_STICK=${b(pool, 'b').affinityId}` })!.name).toBe('b');
    const weighted = makePool('weighted', [{ name: 'a' }]);
    expect(weighted.setCookie(b(weighted, 'a'), { clientIp: '' })).toBeUndefined();
  });

  test('affinity ids are opaque and stable; the cookie parser finds the pool cookie', () => {
    const pool = makePool('cookie', [{ name: 'cas1' }, { name: 'cas2' }]);
    expect(b(pool, 'cas1').affinityId).not.toContain('cas1');
    expect(b(pool, 'cas1').affinityId).toBe(makePool('cookie', [{ name: 'cas1' }]).find('cas1')!.affinityId);
    expect(affinityFromCookie('X-OWA-CANARY=1; CASGATE_AFFINITY=abc; cadata=2', 'CASGATE_AFFINITY')).toBe('abc');
    expect(affinityFromCookie('CASGATE_AFFINITYX=abc', 'CASGATE_AFFINITY')).toBeUndefined();
    expect(affinityFromCookie(undefined, 'CASGATE_AFFINITY')).toBeUndefined();
  });
});

describe('available(): the one question', () => {
  test('draining, disabled, unhealthy, ejected and full backends are skipped; state and reason say why', () => {
    const pool = makePool('round-robin', [{ name: 'a', maxConnections: 2 }, { name: 'b' }]);
    const a = b(pool, 'a');
    a.active = 2;
    expect(count(pool, 4)).toEqual({ b: 4 });
    expect(a.state).toBe('healthy');
    a.active = 0;
    a.drain(0);
    expect([a.state, a.available()]).toEqual(['draining', false]);
    a.enable();
    a.setHealth(false, 'probe GET /owa/healthcheck.htm: HTTP 503');
    expect([a.state, a.reason]).toEqual(['unhealthy', 'probe GET /owa/healthcheck.htm: HTTP 503']);
    a.disable();
    expect(a.state).toBe('disabled');
    expect(a.reason).toContain('HTTP 503');
    a.enable();
    a.setHealth(true, '');
    a.setEjected(true, 'ejected for 30 s');
    expect([a.state, a.available(), a.reason]).toEqual(['unhealthy', false, 'ejected for 30 s']);
    a.setEjected(false);
    expect(a.available()).toBe(true);
    b(pool, 'b').disable();
    a.disable();
    expect(pool.pick({ clientIp: '' })).toBeUndefined();
  });

  test('a drain deadline closes the long-lived exchanges still open', async () => {
    const pool = makePool('least-conn', [{ name: 'a' }]);
    const a = b(pool, 'a');
    const closed: string[] = [];
    a.trackLongLived((r) => void closed.push(r));
    a.drain(20);
    expect(closed).toEqual([]);
    const { eventually } = await import('../helpers/eventually.js');
    await eventually(() => closed.length === 1, { timeoutMs: 2000 });
    expect(closed[0]).toBe('drain timeout');
    expect(a.reason).toContain('1 long-lived');
  });
});
