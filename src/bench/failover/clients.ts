// The clients of a failover run, each keeping a log of what happened to it rather than totals: the request mix (OWA,
// EWS, MAPI sessions with their cookies, OAB, Autodiscover) in a closed loop, ActiveSync Pings held open, and Outlook
// Anywhere tunnels carrying a trickle. Pings and tunnels behave as phones and Outlook do: when the connection is lost
// they reconnect (after a short pause), so that the time until they were back is measurable.
//
// Every HTTP request carries `bench=<id>` in its query string, so that the gateway's record of it (which CAS, how many
// attempts) can be joined to what the client saw; tunnels are attributed by the X-FEServer header of their OUT channel.
import tls from 'node:tls';
import { Pool } from 'undici';
import { classifyError, classifyStatus } from '../load/errors.js';
import { MixSource, type MixSpec } from '../load/mix.js';
import { ActiveSyncPingClient, pingPath } from '../clients/activesync-ping.js';
import { RpcTunnelClient } from '../clients/rpc-tunnel.js';
import type { ClientTls } from './target.js';
import type { HeldLoss, RequestSample } from './timeline.js';

/** What the gateway recorded for one request, keyed by the bench id in its URL. */
export interface GatewayView {
  startedAt: number;
  backend?: string;
  attempts: number;
}

/** Shared log of a run; times are performance.now() until finish() turns them into ms since `t0`. */
export class RunLog {
  readonly t0 = performance.now();
  private nextId = 1;
  readonly pending = new Map<number, { kind: string; sentAt: number; endAt?: number; status: number; failure?: string; feServer?: string }>();
  readonly gateway = new Map<number, GatewayView>();
  readonly losses: Array<HeldLoss & { id?: number; reconnectId?: number }> = [];

  id(): number {
    return this.nextId++;
  }

  /** Joins client observations with gateway records. Requests still open at the end are left out (nothing was lost). */
  samples(): RequestSample[] {
    const out: RequestSample[] = [];
    for (const [id, p] of this.pending) {
      if (p.endAt === undefined) continue;
      const g = this.gateway.get(id);
      const backend = g?.backend ?? p.feServer;
      out.push({
        kind: p.kind,
        sentAt: (g?.startedAt ?? p.sentAt) - this.t0,
        endAt: p.endAt - this.t0,
        status: p.status,
        ...(p.failure !== undefined ? { failure: p.failure } : {}),
        ...(backend !== undefined ? { backend } : {}),
        attempts: g?.attempts ?? 1,
      });
    }
    return out.sort((a, b) => a.sentAt - b.sentAt);
  }

  /** Long-lived losses in ms since t0, with the backend a lost Ping was on taken from the gateway's record. */
  heldLosses(): HeldLoss[] {
    return this.losses.map(({ id, reconnectId, ...l }) => {
      const g = id !== undefined ? this.gateway.get(id) : undefined;
      // A Ping's replacement: when and where the gateway took it (its record comes when it ends, at the latest at stop).
      const r = reconnectId !== undefined ? this.gateway.get(reconnectId) : undefined;
      const reconnectedAt = r?.startedAt ?? l.reconnectedAt;
      const reconnectedTo = r?.backend ?? l.reconnectedTo;
      return {
        ...l,
        lostAt: l.lostAt - this.t0,
        ...(l.backend === undefined && g?.backend !== undefined ? { backend: g.backend } : {}),
        ...(reconnectedAt !== undefined ? { reconnectedAt: reconnectedAt - this.t0 } : {}),
        ...(reconnectedTo !== undefined ? { reconnectedTo } : {}),
      };
    });
  }
}

function withId(path: string, id: number): string {
  return `${path}${path.includes('?') ? '&' : '?'}bench=${id}`;
}

function header(h: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The request mix in a closed loop: `concurrency` loops, each sending its next request when the last one ended. */
export class RequestLoad {
  private readonly pool: Pool;
  private readonly source: MixSource;
  private running = false;
  private loops: Promise<void>[] = [];

  constructor(
    private readonly origin: string,
    connect: Record<string, unknown>,
    mix: MixSpec,
    private readonly concurrency: number,
    private readonly log: RunLog,
  ) {
    this.pool = new Pool(origin, { connections: concurrency, headersTimeout: 30_000, bodyTimeout: 30_000, connect });
    this.source = new MixSource(mix);
  }

  start(): void {
    this.running = true;
    this.loops = Array.from({ length: this.concurrency }, () => this.loop());
  }

  private async loop(): Promise<void> {
    while (this.running) {
      const spec = this.source.next();
      const id = this.log.id();
      const entry: { kind: string; sentAt: number; endAt?: number; status: number; failure?: string; feServer?: string } = {
        kind: spec.kind === 'mapi-connect' ? 'mapi' : spec.kind === 'get' ? 'autodiscover' : spec.kind,
        sentAt: performance.now(),
        status: 0,
      };
      this.log.pending.set(id, entry);
      let failed = false;
      try {
        const res = await this.pool.request({
          method: spec.method as 'GET',
          path: withId(spec.path, id),
          headers: spec.headers,
          body: spec.body ?? null,
        });
        entry.status = res.statusCode;
        const fe = header(res.headers, 'x-feserver');
        if (fe) entry.feServer = fe;
        spec.onResponse?.(res.statusCode, res.headers);
        await res.body.dump({ limit: 8 << 20 });
        const bad = classifyStatus(res.statusCode);
        if (bad) entry.failure = bad;
      } catch (err) {
        failed = true;
        entry.failure = classifyError(err);
      }
      entry.endAt = performance.now();
      if (entry.failure && !this.running) this.log.pending.delete(id); // cut by the end of the run, not by the outage
      spec.onEnd?.(failed);
      // A lost MAPI session connects again, as Outlook does.
      if (failed) spec.onResponse?.(0, {});
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.race([Promise.all(this.loops), new Promise((r) => setTimeout(r, 2000))]);
    await this.pool.destroy().catch(() => undefined);
  }
}

type Waiting = { loss: HeldLoss & { reconnectId?: number }; candidate?: { id: number; sentAt: number } };

/**
 * ActiveSync Pings held open, one per slot (a phone each), on the shared client (../clients/activesync-ping.ts). A
 * Ping that fails (5xx or connection error) is a loss; the slot sends a new Ping after `retryMs`; the loss counts as
 * reconnected at the send of the first later Ping that did not fail (answered, or still held at the end).
 */
export class PingClients {
  private readonly client: ActiveSyncPingClient<{ id: number; entry: { kind: string; sentAt: number; endAt?: number; status: number; failure?: string; feServer?: string } }>;
  /** Per slot: the loss waiting for a replacement, and the Ping that may be it. */
  private readonly waiting = new Map<number, Waiting>();

  constructor(
    origin: string,
    connect: Record<string, unknown>,
    concurrent: number,
    path: string,
    heartbeatMs: number,
    headers: Record<string, string>,
    private readonly log: RunLog,
    private readonly retryMs = 250,
    /** A replacement Ping that fails after being held this long still counts as having reconnected the slot. */
    private readonly confirmMs = 1000,
  ) {
    this.client = new ActiveSyncPingClient(
      { origin, connect, concurrent, heartbeatMs, headers },
      {
        send: (slot) => {
          const id = this.log.id();
          const entry: { kind: string; sentAt: number; endAt?: number; status: number; failure?: string; feServer?: string } = {
            kind: 'activesync',
            sentAt: performance.now(),
            status: 0,
          };
          this.log.pending.set(id, entry);
          const w = this.waiting.get(slot);
          if (w) w.candidate = { id, sentAt: entry.sentAt };
          return { token: { id, entry }, path: withId(pingPath(path, `FAILOVER${String(slot).padStart(5, '0')}`), id) };
        },
        ended: (slot, { id, entry }, end, stopped) => {
          if (stopped) {
            this.log.pending.delete(id);
            return 0;
          }
          entry.status = end.status;
          if (end.feServer) entry.feServer = end.feServer;
          if (end.failure) entry.failure = end.failure;
          entry.endAt = performance.now();
          return this.ended(slot, id, entry.failure, entry.status);
        },
      },
    );
  }

  start(): void {
    this.client.start();
  }

  /** Books the end of a Ping; returns when the slot sends its next one (answered: at once; lost: after retryMs). */
  private ended(slot: number, id: number, failure: string | undefined, status: number): number {
    const lost = failure !== undefined && (status === 0 || status >= 500);
    const now = performance.now();
    const w = this.waiting.get(slot);
    if (w?.candidate?.id === id && (!lost || now - w.candidate.sentAt >= this.confirmMs)) {
      // The replacement was answered, or held long enough to have been taken by a CAS: the slot was back when it was sent.
      this.reconnected(w);
      this.waiting.delete(slot);
    }
    if (lost && !this.waiting.has(slot)) {
      const loss: HeldLoss & { id: number } = { type: 'activesync', slot, lostAt: now, failure: failure!, id };
      this.log.losses.push(loss);
      this.waiting.set(slot, { loss });
    }
    // Answered: the phone pings again at once. Lost: after a short pause.
    return lost ? this.retryMs : 0;
  }

  private reconnected(w: Waiting): void {
    if (!w.candidate) return;
    w.loss.reconnectedAt = w.candidate.sentAt;
    w.loss.reconnectId = w.candidate.id;
  }

  /** Ends the run: a replacement Ping still held now counts as reconnected when it was sent. */
  async stop(): Promise<void> {
    for (const w of this.waiting.values()) this.reconnected(w);
    await this.client.stop();
  }
}

/**
 * Outlook Anywhere tunnels on the shared client (../clients/rpc-tunnel.ts). A tunnel that closes after its OUT channel
 * answered is lost, and the slot opens a new one after `retryMs`; the loss counts as reconnected when a new tunnel on
 * the slot is up (attributed by the X-FEServer header of its OUT channel).
 */
export class TunnelClients {
  private readonly client: RpcTunnelClient;
  private readonly waiting = new Map<number, HeldLoss>();
  failedOpens = 0;

  constructor(
    host: string,
    port: number,
    tlsOpts: ClientTls,
    tunnels: number,
    path: string,
    trickleBytes: number,
    trickleIntervalMs: number,
    headers: Record<string, string>,
    private readonly log: RunLog,
    retryMs = 250,
  ) {
    this.client = new RpcTunnelClient(
      {
        connect: () => tls.connect({ host, port, ...tlsOpts, ALPNProtocols: ['http/1.1'] }),
        host: tlsOpts.servername,
        path,
        tunnels,
        trickleBytes,
        trickleIntervalMs,
        headers,
      },
      {
        channelId: (slot) => `failover-${process.pid}-${slot}-${Date.now()}`,
        opened: (slot, _openMs, backend) => {
          const w = this.waiting.get(slot);
          if (w) {
            w.reconnectedAt = performance.now();
            if (backend) w.reconnectedTo = backend;
            this.waiting.delete(slot);
          }
        },
        ended: (slot, end) => {
          if (end.wasUp) {
            if (!this.waiting.has(slot)) {
              const failure = end.error !== undefined ? classifyError(end.error) : 'closed';
              const loss: HeldLoss = { type: 'rpc', slot, lostAt: performance.now(), failure, ...(end.backend ? { backend: end.backend } : {}) };
              this.log.losses.push(loss);
              this.waiting.set(slot, loss);
            }
          } else this.failedOpens++;
          return retryMs;
        },
      },
    );
  }

  get opened(): number {
    return this.client.opened;
  }

  get bytesSent(): number {
    return this.client.bytesSent;
  }

  start(): void {
    this.client.start();
  }

  stop(): void {
    this.client.stop();
  }
}
