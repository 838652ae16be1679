// The HTTPS listener: terminates TLS with the certificate store (SNI), then hands each decrypted connection
// either to Node's HTTP server or, for Outlook Anywhere, to the RPC tunnel. llhttp rejects RPC_IN_DATA and
// RPC_OUT_DATA with HPE_INVALID_METHOD before any handler runs (EXCHANGE.md), so the first bytes of every
// connection are looked at before Node's parser sees them.
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TLSSocket, TlsOptions } from 'node:tls';
import { closeServer, listenOn } from './serve.js';

export interface HttpsListenerOptions {
  address: string;
  port: number;
  tls: TlsOptions;
  keepAliveTimeoutMs: number;
  headersTimeoutMs: number;
  maxHeaderSize: number;
  onRequest(req: IncomingMessage, res: ServerResponse): void;
  /** Takes over a connection whose first request uses an Outlook Anywhere method; `head` is what was read. */
  onRpcConnection(socket: TLSSocket, head: Buffer): void;
}

/** `RPC_IN_DATA ` / `RPC_OUT_DATA `: decided on the first 4 bytes, as no standard method starts with `RPC_`. */
export function startsWithRpcMethod(chunk: Buffer): boolean {
  return chunk.length >= 4 && chunk[0] === 0x52 && chunk[1] === 0x50 && chunk[2] === 0x43 && chunk[3] === 0x5f;
}

/** How often connections that have sent nothing yet are checked against headersTimeout (at most). */
const SILENT_SWEEP_MS = 1_000;

export class HttpsListener {
  readonly server: https.Server;
  /**
   * Connections that completed the handshake and have not sent a byte yet, with when they did. One sweep timer cuts
   * those silent longer than headersTimeout, instead of a socket.setTimeout per connection (a Timeout object, a bound
   * function and a timer-list insert and removal on every new connection; bench/peers handshakes profile).
   */
  private readonly silent = new Map<TLSSocket, number>();
  private sweeper: NodeJS.Timeout | undefined;
  /** TCP connections accepted since start (metrics); the open ones are counted by the server (openConnections). */
  connectionsTotal = 0;

  constructor(private readonly opts: HttpsListenerOptions) {
    this.server = https.createServer(
      {
        ...opts.tls,
        maxHeaderSize: opts.maxHeaderSize,
        // Node's 300 s request timeout would cut ActiveSync Pings and RPC channels: timeouts are per route instead.
        requestTimeout: 0,
        headersTimeout: opts.headersTimeoutMs,
        // IIS keeps idle connections 120 s; NTLM-authenticated connections must not be dropped sooner.
        keepAliveTimeout: opts.keepAliveTimeoutMs,
        // Exchange clients send many requests per connection (NTLM makes a new one expensive).
        keepAlive: true,
        noDelay: true,
      },
      opts.onRequest,
    );
    // https.Server serves HTTP through its 'secureConnection' listener; put the RPC check in front of it.
    const httpConnection = this.server.listeners('secureConnection')[0] as (socket: TLSSocket) => void;
    this.server.removeAllListeners('secureConnection');
    this.server.on('secureConnection', (socket: TLSSocket) => {
      // Until its first byte the connection belongs to no HTTP machinery, so headersTimeout does not cover it yet:
      // a client that completes the handshake and then says nothing is cut after the same time (swept, see `silent`).
      if (opts.headersTimeoutMs > 0) this.silent.set(socket, Date.now());
      socket.once('data', (first: Buffer) => {
        this.silent.delete(socket);
        if (startsWithRpcMethod(first)) {
          socket.pause();
          return opts.onRpcConnection(socket, first);
        }
        // Node's HTTP server takes the connection (its parser consumes the TLS stream natively from now on) and is
        // handed the first chunk directly: its own 'data' listener is the only one left, so this is what a read
        // would have delivered. Cheaper than pause + unshift + resume, which queued the chunk again and delivered
        // it a tick later.
        httpConnection.call(this.server, socket);
        socket.emit('data', first);
      });
    });
    this.server.on('connection', () => {
      this.connectionsTotal++;
    });
    // Handshake failures and garbage are the client's problem; never the process's.
    this.server.on('tlsClientError', () => undefined);
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
      if (!socket.writable || err.code === 'ECONNRESET') return socket.destroy();
      const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
      socket.end(`HTTP/1.1 ${status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
    });
  }

  /** Client connections open now (in any state: handshake, idle, request, RPC channel). */
  openConnections(): Promise<number> {
    return new Promise((resolve) => this.server.getConnections((err, count) => resolve(err ? 0 : count)));
  }

  listen(): Promise<AddressInfo> {
    const timeout = this.opts.headersTimeoutMs;
    if (timeout > 0 && !this.sweeper) {
      // A quarter of the timeout between sweeps (1 s at most): a silent client is cut between 1 and 1.25 times it.
      this.sweeper = setInterval(() => this.sweepSilent(timeout), Math.max(10, Math.min(SILENT_SWEEP_MS, Math.floor(timeout / 4)))).unref();
    }
    return listenOn(this.server, this.opts.port, this.opts.address);
  }

  private sweepSilent(timeout: number): void {
    const now = Date.now();
    for (const [socket, since] of this.silent) {
      if (socket.destroyed) this.silent.delete(socket);
      else if (now - since >= timeout) {
        this.silent.delete(socket);
        socket.destroy();
      }
    }
  }

  close(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
    return closeServer(this.server);
  }
}
