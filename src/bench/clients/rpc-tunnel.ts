// The one Outlook Anywhere tunnel client of the bench verbs, over raw sockets (Node's HTTP client refuses the methods,
// and Outlook sends them as written here). Each tunnel: an RPC_IN_DATA channel announcing a 1 GiB body and writing a
// trickle once the tunnel is up, and an RPC_OUT_DATA channel whose response streams back; both carry the same
// X-RPC-Channel-Id. A tunnel is up when its OUT channel's response head arrives with 200; when either socket closes,
// the slot opens a new tunnel after the delay the caller's hook returns. What is counted (losses, reconnections, setup
// latency, errors by kind) is the caller's.
import type { Duplex } from 'node:stream';

export interface TunnelOptions {
  /** Opens one socket to the gateway for a tunnel on `slot` (TLS or plain, the caller's choice; bench ha offers the slot's TLS session). */
  connect(slot: number): Duplex;
  /** The Host header. */
  host: string;
  path: string;
  tunnels: number;
  trickleBytes: number;
  trickleIntervalMs: number;
  /** Sent on both channels (the mix's common headers). */
  headers?: Record<string, string>;
}

export interface TunnelEnd {
  /** The OUT channel had answered 200: an established tunnel was lost (else the open failed). */
  wasUp: boolean;
  /** The socket error that ended it, if any (else a close, or a refusing status). */
  error?: unknown;
  /** The OUT channel's status when it answered anything but 200 (no tunnel). */
  refusedStatus?: number;
  /** X-FEServer of the OUT channel's response, when it came. */
  backend?: string;
}

export interface TunnelHooks {
  /** The channel id of a new tunnel on `slot` (unique per open). */
  channelId(slot: number): string;
  /** The OUT channel answered 200 after `openMs`. */
  opened?(slot: number, openMs: number, backend: string | undefined): void;
  /** The tunnel ended before stop(): returns the delay before the slot opens a new one, in ms. */
  ended(slot: number, end: TunnelEnd): number;
}

export class RpcTunnelClient {
  private stopped = false;
  private readonly sockets = new Set<Duplex>();
  private readonly timers = new Set<NodeJS.Timeout>();
  opened = 0;
  bytesSent = 0;
  bytesReceived = 0;

  constructor(
    private readonly opts: TunnelOptions,
    private readonly hooks: TunnelHooks,
  ) {}

  start(): void {
    for (let i = 0; i < this.opts.tunnels; i++) this.open(i);
  }

  private head(method: string, channel: string, length: number): string {
    const extra = Object.entries(this.opts.headers ?? {}).map(([k, v]) => `${k}: ${v}\r\n`).join('');
    return (
      `${method} ${this.opts.path} HTTP/1.1\r\nHost: ${this.opts.host}\r\nUser-Agent: MSRPC\r\nAccept: application/rpc\r\n` +
      `Content-Type: application/rpc\r\nContent-Length: ${length}\r\nCache-Control: no-cache\r\nPragma: no-cache\r\n` +
      `X-RPC-Channel-Id: ${channel}\r\n${extra}Connection: Keep-Alive\r\n\r\n`
    );
  }

  private open(slot: number): void {
    if (this.stopped) return;
    const channel = this.hooks.channelId(slot);
    const started = performance.now();
    let up = false;
    let ended = false;
    let backend: string | undefined;
    const inSock = this.opts.connect(slot);
    const outSock = this.opts.connect(slot);
    this.sockets.add(inSock).add(outSock);
    const chunk = Buffer.alloc(this.opts.trickleBytes, 0x05);
    const trickle = setInterval(() => {
      if (up && inSock.writable) {
        inSock.write(chunk);
        this.bytesSent += chunk.length;
      }
    }, this.opts.trickleIntervalMs);
    const end = (error?: unknown, refusedStatus?: number): void => {
      if (ended) return;
      ended = true;
      clearInterval(trickle);
      inSock.destroy();
      outSock.destroy();
      this.sockets.delete(inSock);
      this.sockets.delete(outSock);
      if (this.stopped) return;
      const wait = this.hooks.ended(slot, {
        wasUp: up,
        ...(error !== undefined ? { error } : {}),
        ...(refusedStatus !== undefined ? { refusedStatus } : {}),
        ...(backend ? { backend } : {}),
      });
      const t = setTimeout(() => {
        this.timers.delete(t);
        this.open(slot);
      }, wait);
      this.timers.add(t);
    };
    inSock.write(this.head('RPC_IN_DATA', channel, 1_073_741_824));
    outSock.write(this.head('RPC_OUT_DATA', channel, 76));
    outSock.write(Buffer.alloc(76, 0x05));
    let headBuf = '';
    outSock.on('data', (data: Buffer) => {
      this.bytesReceived += data.length;
      if (up) return;
      headBuf += data.toString('latin1');
      const endOfHead = headBuf.indexOf('\r\n\r\n');
      if (endOfHead < 0) return;
      const head = headBuf.slice(0, endOfHead);
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
      if (status !== 200) return end(undefined, status);
      backend = /\r\nX-FEServer: *([^\r]+)/i.exec(head)?.[1]?.trim();
      up = true;
      this.opened++;
      this.hooks.opened?.(slot, performance.now() - started, backend);
    });
    inSock.on('data', (data: Buffer) => void (this.bytesReceived += data.length));
    for (const s of [inSock, outSock]) {
      s.on('error', (err) => end(err));
      s.on('close', () => end());
    }
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    for (const s of this.sockets) s.destroy();
  }
}
