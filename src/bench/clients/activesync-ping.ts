// The one ActiveSync Ping client of the bench verbs: `concurrent` slots (a phone each), one Ping held per slot, no
// timeout on our side (a Ping may be held an hour). What a verb does with each result (latency histogram for bench
// load; losses and reconnections for bench failover and bench ha) and how soon a slot pings again is the caller's,
// through hooks. The slots share one pool unless the caller gives each its own connection (bench ha: a phone's own
// connection and TLS session, whose connects it watches).
import { Pool, type Dispatcher } from 'undici';
import { classifyError, classifyStatus } from '../load/errors.js';

// A minimal WBXML Ping (HeartbeatInterval 3480): the mock does not parse it, a real CAS would answer 400 without folders.
const PING_BODY = Buffer.from([0x03, 0x01, 0x6a, 0x00, 0x00, 0x0d, 0x45, 0x48, 0x03, 0x33, 0x34, 0x38, 0x30, 0x00, 0x01, 0x01]);

/** The request target of a Ping from device `deviceId` of `user` on the ActiveSync path `base`. */
export function pingPath(base: string, deviceId: string, user = 'bench'): string {
  return `${base}?Cmd=Ping&User=${user}&DeviceId=${deviceId}&DeviceType=casgatebench`;
}

/** How one Ping ended: its status (0 = no response) and, when it failed, the failure's kind (load/errors.ts). */
export interface PingEnd {
  status: number;
  failure?: string;
  /** X-FEServer of the response: which CAS answered. */
  feServer?: string;
  /** The request threw (refused, reset, cut while held) rather than being answered with a failing status. */
  threw: boolean;
}

export interface PingHooks<T> {
  /** A Ping is about to go out on `slot`: the caller's handle for it and the request target to send it to. */
  send(slot: number): { token: T; path: string };
  /**
   * The Ping ended. `stopped`: the run ended first (the result is the end of the run, not of the Ping). Returns how
   * long the slot waits before its next Ping, in ms (0 = at once); ignored once stopped.
   */
  ended(slot: number, token: T, end: PingEnd, stopped: boolean): number;
}

/** Where the slots' Pings go: one pool of `concurrent` connections they share, or a dispatcher of the caller's per slot. */
export type PingConnections =
  | {
      origin: string;
      /** undici connect options (TLS: ca, servername, rejectUnauthorized). */
      connect: object;
      dispatcher?: never;
    }
  | {
      /** The connection slot `slot` sends on; its timeouts are the caller's, and so is closing it after stop(). */
      dispatcher: (slot: number) => Dispatcher;
      origin?: never;
      connect?: never;
    };

export type PingOptions = PingConnections & {
  concurrent: number;
  heartbeatMs: number;
  /** Sent with every Ping (the mix's common headers). */
  headers?: Record<string, string>;
};

function header(h: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

export class ActiveSyncPingClient<T> {
  /** The shared pool, when the caller gave no dispatcher per slot. */
  private readonly pool?: Pool;
  private readonly dispatcherOf: (slot: number) => Dispatcher;
  private readonly timers = new Set<NodeJS.Timeout>();
  private inflight = 0;
  private stopped = false;

  constructor(
    private readonly opts: PingOptions,
    private readonly hooks: PingHooks<T>,
  ) {
    if (opts.dispatcher) this.dispatcherOf = opts.dispatcher;
    else {
      const pool = new Pool(opts.origin, { connections: opts.concurrent, headersTimeout: 0, bodyTimeout: 0, connect: opts.connect });
      this.pool = pool;
      this.dispatcherOf = () => pool;
    }
  }

  start(): void {
    for (let i = 0; i < this.opts.concurrent; i++) this.send(i);
  }

  private send(slot: number): void {
    if (this.stopped) return;
    const { token, path } = this.hooks.send(slot);
    const end: PingEnd = { status: 0, threw: false };
    this.inflight++;
    this.dispatcherOf(slot)
      .request({
        method: 'POST',
        path,
        headers: {
          ...this.opts.headers,
          'content-type': 'application/vnd.ms-sync.wbxml',
          'ms-asprotocolversion': '14.1',
          'x-test-heartbeat-ms': String(this.opts.heartbeatMs),
        },
        body: PING_BODY,
      })
      .then(async (res) => {
        end.status = res.statusCode;
        const fe = header(res.headers, 'x-feserver');
        if (fe) end.feServer = fe;
        await res.body.dump({ limit: 1 << 20 });
        const bad = classifyStatus(res.statusCode);
        if (bad) end.failure = bad;
      })
      .catch((err: unknown) => {
        end.failure = classifyError(err);
        end.threw = true;
      })
      .finally(() => {
        this.inflight--;
        const wait = this.hooks.ended(slot, token, end, this.stopped);
        if (this.stopped) return;
        if (wait <= 0) return this.send(slot);
        const t = setTimeout(() => {
          this.timers.delete(t);
          this.send(slot);
        }, wait);
        t.unref();
        this.timers.add(t);
      });
  }

  /**
   * Ends the run: no new Ping; those held on the shared pool are cut (on dispatchers of the caller's, when the caller
   * closes them). Returns how many were held at that moment.
   */
  async stop(): Promise<{ heldAtEnd: number }> {
    this.stopped = true;
    const heldAtEnd = this.inflight;
    for (const t of this.timers) clearTimeout(t);
    await this.pool?.destroy().catch(() => undefined);
    return { heldAtEnd };
  }
}
