// Long-lived Exchange traffic held open beside the request load: ActiveSync Pings (long polls) and Outlook Anywhere
// RPC tunnels. Both count what was lost, because that, more than latency, is what a proxy gets wrong with them.
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { ActiveSyncPingClient, pingPath } from '../clients/activesync-ping.js';
import { RpcTunnelClient } from '../clients/rpc-tunnel.js';
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
 * Outlook Anywhere tunnels on the shared client (../clients/rpc-tunnel.ts): setup latency into a histogram, failures
 * counted by kind, a tunnel lost after opening counted as lost; every slot opens a new tunnel 100 ms after one ends.
 */
export class RpcTunnels {
  private readonly client: RpcTunnelClient;
  private readonly hist: Histogram = createHistogram();
  private readonly errors: Record<string, number> = {};
  private lost = 0;

  constructor(
    url: URL,
    private readonly tunnels: number,
    path: string,
    trickleBytes: number,
    trickleIntervalMs: number,
    tlsOptions: TlsOptions,
    workerIndex: number,
    common: Record<string, string> = {},
  ) {
    const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const connect = (): Duplex => {
      if (url.protocol !== 'https:') return net.connect({ host, port });
      const servername = tlsOptions.servername ?? (net.isIP(host) ? undefined : host);
      return tls.connect({
        host,
        port,
        rejectUnauthorized: !tlsOptions.insecure,
        ...(tlsOptions.ca ? { ca: tlsOptions.ca } : {}),
        ...(servername ? { servername } : {}),
        ALPNProtocols: ['http/1.1'],
      });
    };
    this.client = new RpcTunnelClient(
      { connect, host: url.host, path, tunnels, trickleBytes, trickleIntervalMs, headers: common },
      {
        channelId: (slot) => `bench-${process.pid}-${workerIndex}-${slot}-${Date.now()}`,
        opened: (_slot, openMs) => recordMs(this.hist, openMs),
        ended: (_slot, end) => {
          if (end.refusedStatus !== undefined) bump(this.errors, classifyStatus(end.refusedStatus) ?? `status-${end.refusedStatus}`);
          else if (end.error !== undefined) bump(this.errors, classifyError(end.error));
          else if (!end.wasUp) bump(this.errors, 'reset');
          if (end.wasUp) this.lost++;
          return 100;
        },
      },
    );
  }

  start(): void {
    this.client.start();
  }

  stop(): RpcStats {
    this.client.stop();
    const { opened, bytesSent, bytesReceived } = this.client;
    return { tunnels: this.tunnels, opened, lost: this.lost, errors: this.errors, bytesSent, bytesReceived, histogram: encodeHistogram(this.hist) };
  }
}
