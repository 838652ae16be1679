// Long-lived Exchange traffic held open beside the request load: ActiveSync Pings (long polls) and Outlook Anywhere
// RPC tunnels. Both count what was lost, because that, more than latency, is what a proxy gets wrong with them.
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { ActiveSyncPingClient, pingPath } from '../clients/activesync-ping.js';
import { classifyError, classifyStatus } from './errors.js';
import { createHistogram, encodeHistogram, recordMs, type Histogram } from './histogram.js';
import type { TlsOptions } from './options.js';

function bump(m: Record<string, number>, k: string): void {
  m[k] = (m[k] ?? 0) + 1;
}

export interface HeldPingStats {
  concurrent: number;
  answered: number;
  errors: Record<string, number>;
  heldAtEnd: number;
  histogram: string;
}

/**
 * `concurrent` Pings (the shared client, ../clients/activesync-ping.ts), each sent again as soon as it is answered;
 * answered ones go into a latency histogram, failures are counted by kind, a Ping that threw is resent after 100 ms.
 */
export class ActiveSyncPings {
  private readonly client: ActiveSyncPingClient<number>;
  private readonly hist: Histogram = createHistogram();
  private answered = 0;
  private readonly errors: Record<string, number> = {};

  constructor(
    origin: string,
    private readonly concurrent: number,
    path: string,
    heartbeatMs: number,
    connect: object,
    common: Record<string, string> = {},
  ) {
    this.client = new ActiveSyncPingClient(
      { origin, connect, concurrent, heartbeatMs, headers: common },
      {
        send: (slot) => ({ token: performance.now(), path: pingPath(path, `BENCH${String(slot).padStart(6, '0')}`) }),
        ended: (_slot, started, end, stopped) => {
          if (stopped) return 0;
          if (end.failure) bump(this.errors, end.failure);
          else {
            this.answered++;
            recordMs(this.hist, performance.now() - started);
          }
          return end.threw ? 100 : 0;
        },
      },
    );
  }

  start(): void {
    this.client.start();
  }

  async stop(): Promise<HeldPingStats> {
    const { heldAtEnd } = await this.client.stop();
    return { concurrent: this.concurrent, answered: this.answered, errors: this.errors, heldAtEnd, histogram: encodeHistogram(this.hist) };
  }
}

export interface RpcStats {
  tunnels: number;
  opened: number;
  lost: number;
  errors: Record<string, number>;
  bytesSent: number;
  bytesReceived: number;
  histogram: string;
}

/**
 * Outlook Anywhere tunnels over raw sockets (llhttp-free on our side too, so the methods go out as Outlook sends them).
 * Each tunnel: an RPC_IN_DATA channel announcing a 1 GiB body and writing a trickle, and an RPC_OUT_DATA channel whose
 * response streams back; both carry the same X-RPC-Channel-Id. A tunnel is open once the OUT channel's response head
 * arrives with 200; a tunnel that closes before stop() is lost and is opened again.
 */
export class RpcTunnels {
  private readonly hist: Histogram = createHistogram();
  private readonly sockets = new Set<Duplex>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly stats = { opened: 0, lost: 0, bytesSent: 0, bytesReceived: 0 };
  private readonly errors: Record<string, number> = {};
  private stopped = false;

  constructor(
    private readonly url: URL,
    private readonly tunnels: number,
    private readonly path: string,
    private readonly trickleBytes: number,
    private readonly trickleIntervalMs: number,
    private readonly tlsOptions: TlsOptions,
    private readonly workerIndex: number,
    private readonly common: Record<string, string> = {},
  ) {}

  start(): void {
    for (let i = 0; i < this.tunnels; i++) this.open(i);
  }

  private connect(): Duplex {
    const port = Number(this.url.port || (this.url.protocol === 'https:' ? 443 : 80));
    const host = this.url.hostname.replace(/^\[|\]$/g, '');
    if (this.url.protocol === 'https:') {
      const servername = this.tlsOptions.servername ?? (net.isIP(host) ? undefined : host);
      return tls.connect({
        host,
        port,
        rejectUnauthorized: !this.tlsOptions.insecure,
        ...(this.tlsOptions.ca ? { ca: this.tlsOptions.ca } : {}),
        ...(servername ? { servername } : {}),
        ALPNProtocols: ['http/1.1'],
      });
    }
    return net.connect({ host, port });
  }

  private head(method: string, channel: string, length: number): string {
    return (
      `${method} ${this.path} HTTP/1.1\r\nHost: ${this.url.host}\r\nUser-Agent: MSRPC\r\nAccept: application/rpc\r\n` +
      `Content-Type: application/rpc\r\nContent-Length: ${length}\r\nCache-Control: no-cache\r\nPragma: no-cache\r\n` +
      `X-RPC-Channel-Id: ${channel}\r\n${Object.entries(this.common).map(([k, v]) => `${k}: ${v}\r\n`).join('')}Connection: Keep-Alive\r\n\r\n`
    );
  }

  private open(slot: number): void {
    if (this.stopped) return;
    const channel = `bench-${process.pid}-${this.workerIndex}-${slot}-${Date.now()}`;
    const started = performance.now();
    let up = false;
    let ended = false;
    const inSock = this.connect();
    const outSock = this.connect();
    this.sockets.add(inSock);
    this.sockets.add(outSock);
    const fail = (err?: unknown, counted = false): void => {
      if (ended) return;
      ended = true;
      clearInterval(trickle);
      this.timers.delete(trickle);
      inSock.destroy();
      outSock.destroy();
      this.sockets.delete(inSock);
      this.sockets.delete(outSock);
      if (this.stopped) return;
      if (counted) {
        // already counted by the caller
      } else if (err) bump(this.errors, classifyError(err));
      else if (!up) bump(this.errors, 'reset');
      if (up) this.stats.lost++;
      const t = setTimeout(() => {
        this.timers.delete(t);
        this.open(slot);
      }, 100);
      this.timers.add(t);
    };
    inSock.write(this.head('RPC_IN_DATA', channel, 1_073_741_824));
    outSock.write(this.head('RPC_OUT_DATA', channel, 76));
    outSock.write(Buffer.alloc(76, 0x05));
    const chunk = Buffer.alloc(this.trickleBytes, 0x05);
    const trickle = setInterval(() => {
      if (inSock.writable) {
        inSock.write(chunk);
        this.stats.bytesSent += chunk.length;
      }
    }, this.trickleIntervalMs);
    this.timers.add(trickle);
    let headBuf = '';
    outSock.on('data', (data: Buffer) => {
      this.stats.bytesReceived += data.length;
      if (up) return;
      headBuf += data.toString('latin1');
      const end = headBuf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(headBuf)?.[1] ?? 0);
      const bad = classifyStatus(status);
      if (bad) {
        bump(this.errors, bad);
        fail(undefined, true);
        return;
      }
      up = true;
      this.stats.opened++;
      recordMs(this.hist, performance.now() - started);
    });
    inSock.on('data', (data: Buffer) => void (this.stats.bytesReceived += data.length));
    for (const s of [inSock, outSock]) {
      s.on('error', (err) => fail(err));
      s.on('close', () => fail());
    }
  }

  stop(): RpcStats {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    for (const s of this.sockets) s.destroy();
    return { tunnels: this.tunnels, ...this.stats, errors: this.errors, histogram: encodeHistogram(this.hist) };
  }
}
