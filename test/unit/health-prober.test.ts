// Active health with a fake undici dispatcher: what a probe's answer means (200 + expectBody up; wrong body, 5xx,
// timeout down, with the reason shown to admins), and the prober's counting: down after `fall` failures, up after
// `rise` passes, the first probe deciding at once, a refused first probe of a starting CAS counted like any failure,
// `unhealthyInterval` while down, and probes the gateway could not make (EMFILE) never counted against the backend.
import type { Dispatcher } from 'undici';
import { afterEach, describe, expect, test, vi } from 'vitest';
import type { PoolPlan } from '../../src/config/plan.js';
import { configSchema } from '../../src/config/schema.js';
import { memoryLogger } from '../../src/logging/logger.js';
import { Backend } from '../../src/upstream/backend.js';
import { createBalancer } from '../../src/upstream/balancer/index.js';
import { originOf, type UpstreamConnections } from '../../src/upstream/connections.js';
import { HealthChecker, probeOnce } from '../../src/upstream/health/active.js';
import { UpstreamPool } from '../../src/upstream/pool.js';

const PATH = '/owa/healthcheck.htm';

type Answer = { status: number; body?: string; headers?: Record<string, string> } | { error: NodeJS.ErrnoException } | 'hang';

function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`connect ${code} 10.0.0.1:80`), { code });
}

/** The part of an undici Dispatcher the prober uses: `request` (answers from a script) and `close`. */
function fakeDispatcher(next: () => Answer) {
  const requests: Dispatcher.RequestOptions[] = [];
  const dispatcher = {
    requests,
    async request(opts: Dispatcher.RequestOptions) {
      requests.push(opts);
      const answer = next();
      if (answer === 'hang') {
        return new Promise((_, reject) => {
          const signal = opts.signal as AbortSignal;
          signal.addEventListener('abort', () => reject(Object.assign(new Error('This operation was aborted'), { name: 'AbortError', code: 'UND_ERR_ABORTED' })));
        });
      }
      if ('error' in answer) throw answer.error;
      const text = answer.body ?? '';
      return {
        statusCode: answer.status,
        headers: answer.headers ?? {},
        body: {
          destroyed: false,
          destroy() {
            this.destroyed = true;
          },
          async *[Symbol.asyncIterator]() {
            yield Buffer.from(text, 'latin1');
          },
        },
      };
    },
    async close() {},
  };
  return dispatcher;
}

function setup(health: Record<string, unknown>, next: () => Answer) {
  const config = configSchema.parse({
    listen: {},
    certificates: [{ cert: 'x', key: 'y' }],
    pools: { p: { servers: [{ name: 'cas1', host: '10.0.0.1' }], health: { path: PATH, jitter: 0, ...health } } },
  }).pools.p!;
  const plan: PoolPlan = { name: 'p', config, mode: 'offload', healthPath: PATH, probeHost: 'mail.example.com' };
  const pool = new UpstreamPool(plan, config.servers.map((s) => new Backend('p', s, originOf(s, 'offload', config.tls), {} as Dispatcher)), createBalancer(config));
  const dispatcher = fakeDispatcher(next);
  const logger = memoryLogger();
  const connections = { dedicated: () => dispatcher } as unknown as UpstreamConnections;
  const checker = new HealthChecker({ connections, logger, onError: (err) => { throw err; } });
  checker.apply({ pools: new Map([['p', pool]]) });
  return { checker, backend: pool.backends[0]!, dispatcher, logger };
}

/** Answers in order; the last one repeats. */
function script(...answers: Answer[]): () => Answer {
  let i = 0;
  return () => answers[Math.min(i++, answers.length - 1)]!;
}

const OK: Answer = { status: 200, body: '200 OK<br/>cas1.example.com' };
const DOWN: Answer = { status: 503, body: '<html><head><title>Service Unavailable</title></head><body><h1>Service Unavailable</h1></body></html>' };

afterEach(() => {
  vi.useRealTimers();
});

describe('probeOnce', () => {
  function backend() {
    const config = configSchema.parse({ listen: {}, certificates: [{ cert: 'x', key: 'y' }], pools: { p: { servers: [{ name: 'cas1', host: '10.0.0.1' }] } } }).pools.p!;
    const s = config.servers[0]!;
    return new Backend('p', s, originOf(s, 'offload', config.tls), {} as Dispatcher);
  }
  const cfg = { timeout: 200, expectBody: '200 OK' };

  test('GETs the path with the published host name on a fresh connection; 200 with expectBody is up', async () => {
    const d = fakeDispatcher(() => OK);
    const b = backend();
    const r = await probeOnce(d as unknown as Dispatcher, b, PATH, 'mail.example.com', cfg);
    expect(r.ok).toBe(true);
    expect(d.requests[0]).toMatchObject({ method: 'GET', path: PATH, origin: b.origin.url, reset: true, headers: { host: 'mail.example.com' } });
  });

  test('200 without expectBody is down, and says which text was missing', async () => {
    const d = fakeDispatcher(() => ({ status: 200, body: '<html><body>Default IIS page</body></html>' }));
    const r = await probeOnce(d as unknown as Dispatcher, backend(), PATH, 'h', cfg);
    expect(r).toMatchObject({ ok: false, detail: 'HTTP 200 without "200 OK": "Default IIS page"' });
  });

  test('a 5xx is down with its status and the page text; a redirect shows its location', async () => {
    const r = await probeOnce(fakeDispatcher(() => DOWN) as unknown as Dispatcher, backend(), PATH, 'h', cfg);
    expect(r).toEqual({ ok: false, detail: 'HTTP 503 "Service Unavailable"' });
    const redirect = await probeOnce(fakeDispatcher(() => ({ status: 302, headers: { location: '/owa/auth/logon.aspx' }, body: '' })) as unknown as Dispatcher, backend(), PATH, 'h', cfg);
    expect(redirect).toMatchObject({ ok: false, detail: 'HTTP 302 location=/owa/auth/logon.aspx ""' });
  });

  test('a server that never answers is reported as a timeout after `timeout` ms', async () => {
    const r = await probeOnce(fakeDispatcher(() => 'hang') as unknown as Dispatcher, backend(), PATH, 'h', { timeout: 50, expectBody: '200 OK' });
    expect(r).toEqual({ ok: false, timedOut: true, detail: 'timed out after 50 ms' });
  });

  test('connection refused is flagged as such; EMFILE is inconclusive (the gateway\'s own want), not a verdict', async () => {
    const refused = await probeOnce(fakeDispatcher(() => ({ error: errno('ECONNREFUSED') })) as unknown as Dispatcher, backend(), PATH, 'h', cfg);
    expect(refused).toMatchObject({ ok: false, refused: true });
    expect(refused.inconclusive).toBeUndefined();
    const emfile = await probeOnce(fakeDispatcher(() => ({ error: errno('EMFILE') })) as unknown as Dispatcher, backend(), PATH, 'h', cfg);
    expect(emfile).toMatchObject({ ok: false, inconclusive: true });
    expect(emfile.refused).toBeUndefined();
  });
});

describe('health prober', () => {
  test('the first probe decides at once: a backend answering 503 at start is down before `fall` probes', async () => {
    vi.useFakeTimers();
    const { checker, backend, dispatcher } = setup({ interval: '1s', fall: 3 }, script(DOWN));
    checker.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(dispatcher.requests).toHaveLength(1);
    expect(backend.healthy).toBe(false);
    expect(backend.reason).toBe(`probe GET ${PATH}: HTTP 503 "Service Unavailable"`);
    await checker.stop();
  });

  test('an up backend is marked down only after `fall` consecutive failures; a pass in between resets the count', async () => {
    vi.useFakeTimers();
    const { checker, backend, logger } = setup({ interval: '1s', fall: 3 }, script(OK, DOWN, DOWN, OK, DOWN, DOWN, DOWN));
    checker.start();
    await vi.advanceTimersByTimeAsync(0); // OK
    expect(backend.healthy).toBe(true);
    await vi.advanceTimersByTimeAsync(2_000); // DOWN, DOWN
    expect(backend.healthy).toBe(true);
    await vi.advanceTimersByTimeAsync(1_000); // OK: the count starts over
    await vi.advanceTimersByTimeAsync(2_000); // DOWN, DOWN
    expect(backend.healthy).toBe(true);
    expect(backend.probeFailures).toBe(4);
    await vi.advanceTimersByTimeAsync(1_000); // third in a row
    expect(backend.healthy).toBe(false);
    expect(backend.reason).toContain('HTTP 503');
    expect(logger.lines.filter((l) => l.includes('backend down'))).toHaveLength(1);
    await checker.stop();
  });

  test('a down backend is marked up after `rise` consecutive passes', async () => {
    vi.useFakeTimers();
    const { checker, backend, logger } = setup({ interval: '1s', rise: 3 }, script(DOWN, OK, OK, DOWN, OK, OK, OK));
    checker.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(backend.healthy).toBe(false);
    await vi.advanceTimersByTimeAsync(3_000); // OK, OK, DOWN
    expect(backend.healthy).toBe(false);
    await vi.advanceTimersByTimeAsync(2_000); // OK, OK
    expect(backend.healthy).toBe(false);
    await vi.advanceTimersByTimeAsync(1_000); // third pass in a row
    expect(backend.healthy).toBe(true);
    expect(backend.reason).toBe('');
    expect(logger.lines.filter((l) => l.includes('backend up'))).toHaveLength(1);
    await checker.stop();
  });

  test('a body without expectBody keeps a backend down even with status 200', async () => {
    vi.useFakeTimers();
    const { checker, backend } = setup({ interval: '1s', rise: 1, expectBody: 'cas1.example.com' }, script({ status: 200, body: '200 OK<br/>cas2.example.com' }));
    checker.start();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(backend.healthy).toBe(false);
    expect(backend.reason).toContain('HTTP 200 without "cas1.example.com"');
    await checker.stop();
  });

  test('a refused first probe of a CAS still starting counts like any failure: down only after `fall`', async () => {
    vi.useFakeTimers();
    const { checker, backend } = setup({ interval: '10s', fall: 2 }, script({ error: errno('ECONNREFUSED') }));
    checker.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(backend.healthy).toBe(true);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(backend.healthy).toBe(false);
    expect(backend.reason).toContain('ECONNREFUSED');
    await checker.stop();
  });

  test('a refused first probe long after the prober started (not a CAS starting) marks the backend down at once', async () => {
    // interval × fall = 3 ms: the answer comes 30 ms after the prober was made, outside the starting window.
    const { checker, backend, dispatcher } = setup({ interval: '1ms', fall: 3 }, script({ error: errno('ECONNREFUSED') }, 'hang'));
    const request = dispatcher.request.bind(dispatcher);
    let calls = 0;
    dispatcher.request = async (opts) => {
      if (calls++ === 0) await new Promise((r) => setTimeout(r, 30));
      return request(opts);
    };
    checker.start();
    await vi.waitFor(() => expect(backend.healthy).toBe(false));
    expect(backend.probeFailures).toBe(1);
    expect(backend.reason).toContain('ECONNREFUSED');
    await checker.stop();
  });

  test('while down, probes come every unhealthyInterval; while up, every interval', async () => {
    vi.useFakeTimers();
    const { checker, backend, dispatcher } = setup({ interval: '10s', unhealthyInterval: '1s', rise: 1 }, script(DOWN, DOWN, DOWN, OK));
    checker.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(backend.healthy).toBe(false);
    await vi.advanceTimersByTimeAsync(3_000);
    expect(dispatcher.requests).toHaveLength(4);
    expect(backend.healthy).toBe(true);
    await vi.advanceTimersByTimeAsync(9_999);
    expect(dispatcher.requests).toHaveLength(4);
    await vi.advanceTimersByTimeAsync(1);
    expect(dispatcher.requests).toHaveLength(5);
    await checker.stop();
  });

  test('probes the gateway could not make (EMFILE) never mark a backend down, are logged once, and do not break a failure run', async () => {
    vi.useFakeTimers();
    const emfile: Answer = { error: errno('EMFILE') };
    const { checker, backend, logger } = setup({ interval: '1s', fall: 2 }, script(OK, emfile, emfile, emfile, emfile, DOWN, emfile, DOWN));
    checker.start();
    await vi.advanceTimersByTimeAsync(0);
    await vi.advanceTimersByTimeAsync(4_000); // four EMFILE
    expect(backend.healthy).toBe(true);
    expect(backend.probeFailures).toBe(0);
    expect(logger.lines.filter((l) => l.includes('out of descriptors'))).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(2_000); // DOWN, EMFILE
    expect(backend.healthy).toBe(true);
    await vi.advanceTimersByTimeAsync(1_000); // DOWN: the second failure in a row, the EMFILE between skipped
    expect(backend.healthy).toBe(false);
    expect(backend.probeFailures).toBe(2);
    await checker.stop();
  });
});
