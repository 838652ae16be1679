// The HTTPS listener: terminates TLS with the certificate store (SNI), then hands each decrypted connection
// either to Node's HTTP server or, for Outlook Anywhere, to the RPC tunnel. llhttp rejects RPC_IN_DATA and
// RPC_OUT_DATA with HPE_INVALID_METHOD before any handler runs (EXCHANGE.md), so the first bytes of every
// connection are looked at before Node's parser sees them.
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { TLSSocket, TlsOptions } from 'node:tls';
import { AddressLimits, type AddressLimitKind, type AddressLimitSettings } from './address-limits.js';
import { answerAndClose, BodyRateRule, isLingering, type ClientTimeoutCounts } from './client-deadlines.js';
import { connectionCeilings } from './descriptor-limit.js';
import { firstChunkProblem } from './first-bytes.js';
import { FAILURES } from '../failure.js';
import { closeServer, listenOn } from '../net/serve.js';
import { CLIENT_WRITE_HIGH_WATER_MARK, setWriteHighWaterMark } from '../net/stream-buffers.js';

export interface HttpsListenerOptions {
  address: string;
  port: number;
  tls: TlsOptions;
  keepAliveTimeoutMs: number;
  /** From the TCP accept to the end of the TLS handshake. */
  handshakeTimeoutMs: number;
  /** A request head, in total (never reset by a byte); also applies to Outlook Anywhere heads (rpc-tunnel.ts). */
  headersTimeoutMs: number;
  bodyGraceMs: number;
  /** Bytes per second a request body must keep up after bodyGraceMs (0 = off). */
  bodyMinRate: number;
  maxHeaderSize: number;
  /** The process's descriptor limit (descriptor-limit.ts); undefined or Infinity = no shedding. */
  descriptorLimit?: number;
  /** Deadlines fired and connections shed, for /metrics. */
  counts: ClientTimeoutCounts;
  perAddress: AddressLimitSettings;
  /** Peers the per-address limits do not apply to: trusted proxies (listen.trustForwardedFrom), many clients each. */
  unlimited?(address: string): boolean;
  /** Called once per address per minute when its connections are refused by a per-address limit. */
  onAddressLimited(address: string, kind: AddressLimitKind, limit: number): void;
  onRequest(req: IncomingMessage, res: ServerResponse): void;
  /** Takes over a connection whose first request uses an Outlook Anywhere method; `head` is what was read. */
  onRpcConnection(socket: TLSSocket, head: Buffer): void;
}

/** `RPC_IN_DATA ` / `RPC_OUT_DATA `: decided on the first 4 bytes, as no standard method starts with `RPC_`. */
export function startsWithRpcMethod(chunk: Buffer): boolean {
  return chunk.length >= 4 && chunk[0] === 0x52 && chunk[1] === 0x50 && chunk[2] === 0x43 && chunk[3] === 0x5f;
}

/** How often the sweep runs (at most): silent connections, request bodies, Node's own head-deadline check. */
const SWEEP_MS = 1_000;

/** Raw TCP sockets accepted by the HTTPS listener and not closed yet (the descriptors clients hold). */
let openClientSockets = 0;
function onClientSocketClose(): void {
  openClientSockets--;
}

export class HttpsListener {
  readonly server: https.Server;
  /**
   * Connections that completed the handshake and have not sent a byte yet, with when they did. One sweep timer cuts
   * those silent longer than headersTimeout, instead of a socket.setTimeout per connection (a Timeout object, a bound
   * function and a timer-list insert and removal on every new connection; bench/peers handshakes profile).
   */
  private readonly silent = new Map<TLSSocket, number>();
  private readonly bodies: BodyRateRule;
  private readonly ceilings: { shedAt: number; refuseAt: number } | undefined;
  readonly addressLimits: AddressLimits;
  private sweeper: NodeJS.Timeout | undefined;
  /** TCP connections accepted since start (metrics); the open ones are counted by the server (openConnections). */
  connectionsTotal = 0;

  constructor(private readonly opts: HttpsListenerOptions) {
    const counts = opts.counts;
    this.ceilings = connectionCeilings(opts.descriptorLimit);
    this.bodies = new BodyRateRule(opts.bodyGraceMs, opts.bodyMinRate, () => counts.fired('body'));
    const limits = (this.addressLimits = new AddressLimits(opts.perAddress, counts.limited, opts.onAddressLimited));
    const onRequest = this.bodies.enabled
      ? (req: IncomingMessage, res: ServerResponse) => {
          this.bodies.watch(req, res);
          opts.onRequest(req, res);
        }
      : opts.onRequest;
    this.server = https.createServer(
      {
        ...opts.tls,
        // Node's default is 120 s, and its timer only reports: the 'tlsClientError' listener below closes.
        handshakeTimeout: opts.handshakeTimeoutMs,
        maxHeaderSize: opts.maxHeaderSize,
        // Node's 300 s request timeout would cut ActiveSync Pings and RPC channels: timeouts are per route instead.
        requestTimeout: 0,
        // Counted by Node from the first byte of each request head to its end, whatever arrives in between.
        headersTimeout: opts.headersTimeoutMs,
        // Node checks that deadline every 30 s by default (one timer for all connections): a 10 s deadline fired
        // anywhere between 10 and 40 s. Checked as often as the silent connections are swept instead.
        connectionsCheckingInterval: sweepInterval(opts.headersTimeoutMs),
        // IIS keeps idle connections 120 s; NTLM-authenticated connections must not be dropped sooner.
        keepAliveTimeout: opts.keepAliveTimeoutMs,
        // Exchange clients send many requests per connection (NTLM makes a new one expensive).
        keepAlive: true,
        noDelay: true,
      },
      onRequest,
    );
    // Descriptors: count every accepted TCP connection; past the ceilings, shed (503 after the handshake) or close.
    // One listener for all of it (beside https.Server's own): every listener more is an array copy per connection.
    this.server.on('connection', (socket: Socket) => {
      this.connectionsTotal++;
      openClientSockets++;
      // on(), not once(): 'close' is emitted once, and once() builds a wrapper per connection.
      socket.on('close', onClientSocketClose);
      if (this.ceilings && openClientSockets > this.ceilings.refuseAt) {
        counts.exhausted.refused++;
        return void socket.destroy();
      }
      if (limits.enabled) {
        const address = socket.remoteAddress ?? '';
        if (opts.unlimited?.(address)) return;
        if (!limits.admit(address, Date.now())) return void socket.resetAndDestroy();
        socket.on('close', () => limits.release(address));
      }
    });
    // An accept that fails for want of descriptors (EMFILE: libuv has already accepted and closed that connection with
    // its spare descriptor) is reported as a server 'error': an unhandled one would end the process.
    this.server.on('error', () => undefined);
    // https.Server serves HTTP through its 'secureConnection' listener; put the RPC check in front of it.
    const httpConnection = this.server.listeners('secureConnection')[0] as (socket: TLSSocket) => void;
    this.server.removeAllListeners('secureConnection');
    this.server.on('secureConnection', (socket: TLSSocket) => {
      setWriteHighWaterMark(socket, CLIENT_WRITE_HIGH_WATER_MARK);
      const shed = this.ceilings !== undefined && openClientSockets > this.ceilings.shedAt;
      // Until its first byte the connection belongs to no HTTP machinery, so headersTimeout does not cover it yet:
      // a client that completes the handshake and then says nothing is cut after the same time (swept, see `silent`).
      if (opts.headersTimeoutMs > 0) this.silent.set(socket, Date.now());
      socket.once('data', (first: Buffer) => {
        this.silent.delete(socket);
        if (shed) {
          counts.exhausted.shed++;
          return answerAndClose(socket, '503 Service Unavailable', FAILURES.GATEWAY_EXHAUSTED.message, 'GATEWAY_EXHAUSTED');
        }
        const problem = firstChunkProblem(first);
        if (problem) return answerAndClose(socket, problem.status, problem.reason);
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
    // Handshake failures, handshake timeouts and garbage are the client's problem; never the process's. https.Server's
    // own listener would hand them to 'clientError', whose HTTP answer is written into a TLS session that never
    // started: the socket was never closed and stayed in CLOSE-WAIT once the client left (issue 15, item 2).
    this.server.removeAllListeners('tlsClientError');
    this.server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: TLSSocket) => {
      if (err.code === 'ERR_TLS_HANDSHAKE_TIMEOUT') counts.fired('handshake');
      socket.destroy();
    });
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
      if (isLingering(socket)) return;
      if (!socket.writable || err.code === 'ECONNRESET') return socket.destroy();
      if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
        // requestTimeout is 0: only the head deadline sends this.
        counts.fired('head');
        return answerAndClose(socket, '408 Request Timeout', 'the request head did not arrive in time');
      }
      if (err.code === 'HPE_HEADER_OVERFLOW') {
        return answerAndClose(socket, '431 Request Header Fields Too Large', `the request head is larger than ${opts.maxHeaderSize} bytes`);
      }
      answerAndClose(socket, '400 Bad Request', 'malformed request');
    });
    // keepAliveTimeout (between requests) ends here (the route limits during a request are the engine's:
    // proxy/client-idle-watch.ts). Node destroys the socket itself only when nobody listens to 'timeout'.
    this.server.on('timeout', (socket: Socket & { _httpMessage?: unknown }) => {
      if (!socket._httpMessage) counts.fired('idle');
      socket.destroy();
    });
    // A client that asks for `100 Continue` gets it when its request is forwarded (forward.ts), so that a request
    // answered by the proxy itself (404, 403, 503) never has its body sent; Node would answer 100 at once.
    this.server.on('checkContinue', onRequest);
  }

  /** Client TCP connections open on this listener (all listeners of the process share the descriptor limit). */
  static get openClientSockets(): number {
    return openClientSockets;
  }

  /** Client connections open now (in any state: handshake, idle, request, RPC channel). */
  openConnections(): Promise<number> {
    return new Promise((resolve) => this.server.getConnections((err, count) => resolve(err ? 0 : count)));
  }

  listen(): Promise<AddressInfo> {
    if (!this.sweeper) this.sweeper = setInterval(() => this.sweep(), sweepInterval(this.opts.headersTimeoutMs)).unref();
    return listenOn(this.server, this.opts.port, this.opts.address);
  }

  private sweep(): void {
    const now = Date.now();
    const timeout = this.opts.headersTimeoutMs;
    if (timeout > 0) {
      for (const [socket, since] of this.silent) {
        if (socket.destroyed) this.silent.delete(socket);
        else if (now - since >= timeout) {
          this.silent.delete(socket);
          this.opts.counts.fired('head');
          // Closed without a 408: browsers open connections ahead of need and leave them idle, and a 408 on one of
          // those is shown as an error (HAProxy's `option http-ignore-probes`, nginx's silent close).
          socket.destroy();
        }
      }
    }
    this.bodies.sweep(now);
    if (this.addressLimits.enabled) this.addressLimits.sweep(now);
  }

  close(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
    return closeServer(this.server);
  }
}

/** A quarter of the head deadline between sweeps, 1 s at most: a deadline fires between 1 and 1.25 times its value. */
function sweepInterval(headersTimeoutMs: number): number {
  return headersTimeoutMs > 0 ? Math.max(10, Math.min(SWEEP_MS, Math.floor(headersTimeoutMs / 4))) : SWEEP_MS;
}
