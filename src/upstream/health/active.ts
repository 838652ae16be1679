// Active health: one prober per (pool, backend) for the whole process, `GET <healthPath>` with the published host
// name, over HTTP for offloaded pools and HTTPS for bridged ones (verified like traffic: same origin, same TLS
// settings). Up only on 200 with `expectBody` in the body (Exchange's healthcheck.htm answers `200 OK<br/>fqdn`;
// 401, 3xx, 503, timeouts and wrong bodies are down). HAProxy's fall/rise counters, Envoy's unhealthy interval
// and jitter. Pools with `healthFrom` (PowerShell → EWS) follow another pool's verdicts instead of probing.
//
// The checker knows nothing about balancers (Traefik's way): it sets a backend's health and logs edges.
import type { Dispatcher } from 'undici';
import type { HealthConfig } from '../../config/schema.js';
import type { Logger } from '../../logging/logger.js';
import { describeCause, isLocalExhaustion } from '../../failure.js';
import { CLOSE_ON_DOWN_MIN_AGE_MS, type Backend } from '../backend.js';
import type { UpstreamConnections } from '../connections.js';
import type { UpstreamPool } from '../pool.js';

/** Bytes of a probe's body read at most: enough for healthcheck.htm and the start of an error page. */
const MAX_BODY = 8_192;
const SNIPPET = 120;

export interface ProbeResult {
  ok: boolean;
  /** The probe could not be made for want of the gateway's own resources (EMFILE...): it says nothing of the server. */
  inconclusive?: boolean;
  /** For people: `HTTP 503 "Service Unavailable ..."`, `ECONNREFUSED ...`, `timed out after 4000 ms`. */
  detail: string;
  /** Nothing listens on the server's port (connection refused): a CAS still starting, or stopped. */
  refused?: boolean;
  /** No answer within the probe timeout: a CAS whose IIS app pools are still warming up, or one in trouble. */
  timedOut?: boolean;
}

/** A backend whose health state a prober sets: its own, or one of a `healthFrom` pool's. */
interface Target {
  backend: Backend;
  closeOnDown: boolean;
}

/** Text of an HTML body on one line, tags dropped, cut to `max` characters. */
export function bodySnippet(body: string, max = SNIPPET): string {
  const flat = (html: string) =>
    html
      .replace(/<(script|style)[^>]*>[\s\S]*?<\/\1>/gi, ' ')
      .replace(/<[^>]*>/g, ' ')
      .replace(/&nbsp;/g, ' ')
      .replace(/\s+/g, ' ')
      .trim();
  // The head's <title> usually repeats the page's heading (HTTP.sys: "Service Unavailable" twice): body text first.
  const title = /<title[^>]*>([\s\S]*?)<\/title>/i.exec(body)?.[1];
  const text = flat(body.replace(/<!DOCTYPE[^>]*>/gi, ' ').replace(/<head[^>]*>[\s\S]*?<\/head>/gi, ' ')) || flat(title ?? '');
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** One probe: GET path with Host, judged by status 200 and `expectBody`. Never throws. */
export async function probeOnce(
  dispatcher: Dispatcher,
  backend: Backend,
  path: string,
  host: string,
  cfg: Pick<HealthConfig, 'timeout' | 'expectBody'>,
  signal?: AbortSignal,
): Promise<ProbeResult> {
  const timeout = AbortSignal.timeout(cfg.timeout);
  const abort = signal ? AbortSignal.any([signal, timeout]) : timeout;
  try {
    const res = await dispatcher.request({
      origin: backend.origin.url,
      path,
      method: 'GET',
      headers: { host, 'user-agent': 'casgate-health-check', accept: '*/*' },
      headersTimeout: cfg.timeout,
      bodyTimeout: cfg.timeout,
      // A fresh connection per probe: a server that stopped accepting must fail its probe.
      reset: true,
      signal: abort,
    });
    let body = '';
    for await (const chunk of res.body) {
      body += (chunk as Buffer).toString('latin1');
      if (body.length >= MAX_BODY) {
        res.body.destroy();
        break;
      }
    }
    if (res.statusCode === 200 && body.includes(cfg.expectBody)) return { ok: true, detail: `HTTP 200 ${JSON.stringify(bodySnippet(body))}` };
    if (res.statusCode === 200) return { ok: false, detail: `HTTP 200 without ${JSON.stringify(cfg.expectBody)}: ${JSON.stringify(bodySnippet(body))}` };
    const location = res.headers.location ? ` location=${String(res.headers.location)}` : '';
    return { ok: false, detail: `HTTP ${res.statusCode}${location} ${JSON.stringify(bodySnippet(body))}` };
  } catch (err) {
    if (timeout.aborted) return { ok: false, timedOut: true, detail: `timed out after ${cfg.timeout} ms` };
    if (isLocalExhaustion(err)) return { ok: false, inconclusive: true, detail: describeCause(err) };
    const e = err as { code?: string; cause?: { code?: string } };
    const refused = (e?.code ?? e?.cause?.code) === 'ECONNREFUSED';
    return { ok: false, detail: describeCause(err), ...(refused ? { refused } : {}) };
  }
}

class Prober {
  private failures = 0;
  private passes = 0;
  /** The last probe could not be made (EMFILE...); its verdict was skipped. */
  private exhausted = false;
  /** No probe has answered yet: the first verdict counts at once (a server in maintenance at start is not used for fall × interval). */
  private first: boolean;
  /** performance.now() at construction: a CAS that refuses connections within interval × fall of it is still starting. */
  private readonly createdAt = performance.now();
  private timer: NodeJS.Timeout | undefined;
  private readonly abort = new AbortController();
  private stopped = false;

  constructor(
    private readonly pool: UpstreamPool,
    private readonly backend: Backend,
    private readonly targets: Target[],
    private readonly dispatcher: Dispatcher,
    private readonly logger: Logger,
    initial: boolean,
    private readonly onError: (err: unknown) => void = (err) => logger.error('health prober failed', { error: String(err) }),
  ) {
    this.first = initial;
  }

  private get cfg(): HealthConfig {
    return this.pool.plan.config.health;
  }

  start(): void {
    this.schedule(Math.random() * Math.min(this.cfg.jitter, this.cfg.interval));
  }

  private schedule(delay: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.run().catch((err: unknown) => this.afterError(err)), delay);
    this.timer.unref();
  }

  private async run(): Promise<void> {
    const path = this.pool.plan.healthPath!;
    const host = this.pool.plan.probeHost ?? this.backend.server.host;
    const result = await probeOnce(this.dispatcher, this.backend, path, host, this.cfg, this.abort.signal);
    if (this.stopped) return;
    this.apply(result, path);
    const base = this.backend.healthy ? this.cfg.interval : (this.cfg.unhealthyInterval ?? this.cfg.interval);
    this.schedule(base + Math.random() * this.cfg.jitter);
  }

  /** Something in the prober's own code threw: report it and keep probing, one interval later. */
  private afterError(err: unknown): void {
    this.onError(err);
    this.schedule(this.cfg.interval);
  }

  private apply(result: ProbeResult, path: string): void {
    // Edges, not levels: one line when probes start failing for the gateway's own want of descriptors, none after.
    if (result.inconclusive) {
      if (!this.exhausted) this.logger.warn('health probe not made: the gateway is out of descriptors or memory', { pool: this.pool.name, backend: this.backend.name, path, detail: result.detail });
      this.exhausted = true;
      return;
    }
    this.exhausted = false;
    const first = this.first;
    this.first = false;
    if (result.ok) {
      this.failures = 0;
      if (this.backend.healthy) return;
      this.passes++;
      if (this.passes >= this.cfg.rise || first) this.set(true, '');
      return;
    }
    this.passes = 0;
    this.failures++;
    this.backend.probeFailures++;
    const reason = `probe GET ${path}: ${result.detail}`;
    // A CAS started together with casgate may not listen yet, or listen with its IIS app pools still warming up: a
    // first probe refused or unanswered within interval × fall of the start counts like any failure (fall of them
    // mark it down) instead of taking it out of its pools at once. A first probe that gets an answer (a 503 in
    // maintenance) still counts at once.
    const starting = first && (result.refused === true || result.timedOut === true) && performance.now() - this.createdAt < this.cfg.interval * this.cfg.fall;
    if (!this.backend.healthy || this.failures >= this.cfg.fall || (first && !starting)) this.set(false, reason);
  }

  private set(up: boolean, reason: string): void {
    for (const { backend, closeOnDown } of this.targets) {
      if (!backend.setHealth(up, reason)) continue; // a level, not an edge: only the reason was refreshed
      if (up) {
        // Active health saw it down and back: an outlier ejection from the outage ends too (Envoy's
        // successful_active_health_check_uneject_host), or a restarted server would wait out baseEjection.
        backend.setEjected(false);
        this.logger.info('backend up', { pool: backend.pool, backend: backend.name });
        continue;
      }
      const closed = closeOnDown ? backend.closeLongLived(`backend down: ${reason}`, CLOSE_ON_DOWN_MIN_AGE_MS) : 0;
      this.logger.warn('backend down', { pool: backend.pool, backend: backend.name, reason, closedLongLived: closeOnDown ? closed : undefined });
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.abort.abort();
    await this.dispatcher.close().catch(() => undefined);
  }
}

export interface HealthCheckerOptions {
  connections: UpstreamConnections;
  logger: Logger;
  /** An exception in a prober's own code (not a failed probe: that is a verdict) is reported here, never thrown. */
  onError?(err: unknown): void;
}

export class HealthChecker {
  private probers: Prober[] = [];
  private pools: ReadonlyMap<string, UpstreamPool> = new Map();
  private started = false;

  constructor(private readonly opts: HealthCheckerOptions) {}

  /** Number of probers: one per probed (pool, backend). */
  get size(): number {
    return this.probers.length;
  }

  /** The gateway's one call at start and at every reload: the probers follow the new pools at once. */
  apply(runtime: { readonly pools: ReadonlyMap<string, UpstreamPool> }): void {
    this.pools = runtime.pools;
    if (this.started) this.sync(false);
  }

  start(): void {
    this.started = true;
    this.sync(true);
  }

  /**
   * (Re)builds the probers for the current pools. After a reload, backends kept by the reload keep their health
   * state; their new probers count fall/rise from zero. At start, a backend's first probe decides at once.
   */
  private sync(initial: boolean): void {
    const old = this.probers;
    this.probers = [];
    for (const p of old) void p.stop();
    const pools = this.pools;
    // Which pools follow which: `healthFrom` chains resolve to the pool that probes.
    const followers = new Map<string, UpstreamPool[]>();
    for (const pool of pools.values()) {
      const source = sourceOf(pool, pools);
      if (source && source !== pool) followers.set(source.name, [...(followers.get(source.name) ?? []), pool]);
    }
    for (const pool of pools.values()) {
      const { plan } = pool;
      if (plan.healthFrom || !plan.healthPath || !plan.config.health.enabled) continue;
      for (const backend of pool.backends) {
        const targets: Target[] = [{ backend, closeOnDown: plan.config.closeOnDown }];
        for (const f of followers.get(pool.name) ?? []) {
          const twin = f.find(backend.name);
          if (twin) targets.push({ backend: twin, closeOnDown: f.plan.config.closeOnDown });
        }
        const prober = new Prober(pool, backend, targets, this.opts.connections.dedicated(backend.origin), this.opts.logger, initial, this.opts.onError);
        this.probers.push(prober);
        prober.start();
      }
    }
  }

  async stop(): Promise<void> {
    this.started = false;
    const probers = this.probers;
    this.probers = [];
    await Promise.all(probers.map((p) => p.stop()));
  }
}

/** The pool whose probes decide `pool`'s health: itself, or the end of its `healthFrom` chain. */
function sourceOf(pool: UpstreamPool, pools: ReadonlyMap<string, UpstreamPool>): UpstreamPool | undefined {
  const seen = new Set<UpstreamPool>();
  let current: UpstreamPool | undefined = pool;
  while (current?.plan.healthFrom && !seen.has(current)) {
    seen.add(current);
    current = pools.get(current.plan.healthFrom);
  }
  return current && !seen.has(current) ? current : undefined;
}
