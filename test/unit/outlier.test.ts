// Passive health: consecutive connect failures, resets and timeouts eject a (pool, backend) for a growing time,
// a success resets the count, 4xx-like codes do not count, and the ejection cap (maxEjectionPercent) holds.
import type { Dispatcher } from 'undici';
import { afterEach, describe, expect, test, vi } from 'vitest';
import type { PoolPlan } from '../../src/config/plan.js';
import { configSchema } from '../../src/config/schema.js';
import { memoryLogger } from '../../src/logging/logger.js';
import { Backend } from '../../src/upstream/backend.js';
import { createBalancer } from '../../src/upstream/balancer/index.js';
import { originOf } from '../../src/upstream/connections.js';
import { OutlierDetector } from '../../src/upstream/health/outlier.js';
import { UpstreamPool } from '../../src/upstream/pool.js';

function setup(n: number, outlier: Record<string, unknown>) {
  const config = configSchema.parse({
    listen: {},
    certificates: [{ cert: 'x', key: 'y' }],
    pools: { p: { servers: Array.from({ length: n }, (_, i) => ({ name: `cas${i + 1}`, host: `10.0.0.${i + 1}` })), outlier } },
  }).pools.p!;
  const plan: PoolPlan = { name: 'p', config, mode: 'offload' };
  const pool = new UpstreamPool(plan, config.servers.map((s) => new Backend('p', s, originOf(s, 'offload', config.tls), {} as Dispatcher)), createBalancer(config));
  const logger = memoryLogger();
  const detector = new OutlierDetector({ logger });
  detector.apply({ pools: new Map([['p', pool]]) });
  return { pool, detector, logger, b: (i: number) => pool.backends[i]! };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('outlier detection', () => {
  test('past consecutiveFailures the backend is ejected; a success in between resets the count', () => {
    const { detector, b } = setup(3, { consecutiveFailures: 3 });
    detector.onResult(b(0), false, 'UPSTREAM_CONNECT');
    detector.onResult(b(0), false, 'UPSTREAM_RESET');
    detector.onResult(b(0), true);
    detector.onResult(b(0), false, 'UPSTREAM_TIMEOUT');
    detector.onResult(b(0), false, 'UPSTREAM_CONNECT');
    expect(b(0).available()).toBe(true);
    detector.onResult(b(0), false, 'UPSTREAM_CONNECT');
    expect(b(0).available()).toBe(false);
    expect(b(0).state).toBe('unhealthy');
    expect(b(0).reason).toMatch(/ejected for 30 s after 3 consecutive failures \(last UPSTREAM_CONNECT\)/);
  });

  test('TLS verification failures and client problems do not count', () => {
    const { detector, b } = setup(3, { consecutiveFailures: 2 });
    for (let i = 0; i < 5; i++) detector.onResult(b(0), false, 'UPSTREAM_TLS');
    for (let i = 0; i < 5; i++) detector.onResult(b(0), false, 'CLIENT_ABORTED');
    expect(b(0).available()).toBe(true);
  });

  test('ejection time grows with each ejection (base × count) up to maxEjection, then the backend returns', () => {
    vi.useFakeTimers();
    const { detector, b, logger } = setup(2, { consecutiveFailures: 1, baseEjection: '10s', maxEjection: '25s' });
    const eject = () => detector.onResult(b(0), false, 'UPSTREAM_CONNECT');
    eject();
    expect(b(0).reason).toContain('ejected for 10 s');
    vi.advanceTimersByTime(10_000);
    expect(b(0).available()).toBe(true);
    expect(logger.lines.some((l) => l.includes('backend returned from ejection pool=p backend=cas1'))).toBe(true);
    eject();
    expect(b(0).reason).toContain('ejected for 20 s');
    vi.advanceTimersByTime(19_999);
    expect(b(0).available()).toBe(false);
    vi.advanceTimersByTime(1);
    eject();
    expect(b(0).reason).toContain('ejected for 25 s'); // 30 s capped
    detector.stop();
  });

  test('never more than maxEjectionPercent of a pool is ejected at once', () => {
    const { detector, pool, logger } = setup(4, { consecutiveFailures: 1, maxEjectionPercent: 50 });
    for (const backend of pool.backends) for (let i = 0; i < 3; i++) detector.onResult(backend, false, 'UPSTREAM_CONNECT');
    expect(pool.backends.filter((x) => x.isEjected)).toHaveLength(2);
    expect(pool.pick({ clientIp: '' })).toBeDefined();
    expect(logger.lines.some((l) => l.includes('outlier not ejected: pool at its ejection cap'))).toBe(true);
    detector.stop();
  });

  test('a pool of one is never ejected empty with the default 50%', () => {
    const { detector, b } = setup(1, { consecutiveFailures: 1 });
    for (let i = 0; i < 10; i++) detector.onResult(b(0), false, 'UPSTREAM_CONNECT');
    expect(b(0).available()).toBe(true);
  });

  test('disabled outlier detection ejects nothing', () => {
    const { detector, b } = setup(3, { consecutiveFailures: 1, enabled: false });
    for (let i = 0; i < 10; i++) detector.onResult(b(0), false, 'UPSTREAM_CONNECT');
    expect(b(0).available()).toBe(true);
  });
});
