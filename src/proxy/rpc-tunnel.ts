// Outlook Anywhere (RPC over HTTP, MS-RPCH). Each RPC_IN_DATA / RPC_OUT_DATA channel is a request with a
// 1 GB Content-Length streamed for hours. Node's HTTP parser refuses these methods, so the listener hands such
// connections here. Each client connection gets a backend connection of its own for its whole life; request
// heads are parsed (bounded, strict), rewritten with the forwarded headers, and bodies and responses stream
// through untouched, with backpressure, never buffered. The NTLM handshake that precedes a channel (several
// small RPC_IN_DATA requests on one connection) rides the same backend connection. Only an idle timeout
// applies (the rpc route's, 30 min by default): there is no total limit.
import type { IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { answerAndClose, type ClientTimeoutCounts } from '../frontend/client-deadlines.js';
import type { Logger } from '../logging/logger.js';
import { requestHost } from '../router/request-host.js';
import { canonicalTarget } from '../router/request-target.js';
import type { Route } from '../config/route.js';
import type { Router } from '../router/router.js';
import type { Runtime } from '../runtime/runtime.js';
import type { Backend } from '../upstream/backend.js';
import { connectRaw } from '../upstream/connections.js';
import type { UpstreamPool } from '../upstream/pool.js';
import { addressIn } from './address-check.js';
import { describeCause, FAILURES, type FailureCode } from '../failure.js';
import type { RequestRecord } from '../logging/request-record.js';
import { formatIdentity, identityFromAuthorization } from './auth-identity.js';
import type { AuthProtection } from './auth-protection/protection.js';
import { upstreamRequestHeaders } from './headers.js';
import type { Mitigations } from './mitigations.js';
import { forwardedClient } from './forwarded-client.js';
import { headerValue, parseRpcHead, type RpcRequestHead } from './rpc-head.js';
import { RpcRecords, type RpcEnd } from './rpc-records.js';

export interface RpcTunnelOptions {
  /** Set by RpcTunnels.apply (start and reload); a tunnel routes each request head with the tables in effect. */
  router?: Router;
  pools: ReadonlyMap<string, UpstreamPool>;
  logger: Logger;
  isTrustedProxy(ip: string): boolean;
  /** Each request head must be complete this long after its first byte, as on the HTTP path (0 = no limit). */
  headersTimeoutMs: number;
  counts?: ClientTimeoutCounts;
  /** Known-exploit refusals (exchange.mitigations): the engine's matcher, on each head's canonical target. */
  mitigations?: Mitigations;
  /** Password-spray limits (exchange.authProtection): the engine's decision, for heads that carry credentials. */
  authProtection?: AuthProtection;
  /** Called once per request head when its exchange is over (rpc-records.ts): access log, metrics. */
  onRecord?(record: RequestRecord): void;
}

/** A head's header lines as Node would present them to the engine (lower-case names, cookies joined by `; `). */
function nodeHeaders(lines: ReadonlyArray<[string, string]>): IncomingHttpHeaders {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of lines) {
    const lower = name.toLowerCase();
    const had = out[lower];
    if (had === undefined) out[lower] = value;
    else if (lower === 'cookie') out[lower] = `${had as string}; ${value}`;
    else out[lower] = Array.isArray(had) ? [...had, value] : [had, value];
  }
  return out as IncomingHttpHeaders;
}

const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 429: 'Too Many Requests' };
const REJECT_TEXT: Record<number, string> = { 400: 'Bad Request', 403: 'Forbidden', 404: 'Not Found', 503: 'Service Unavailable' };

/** The longest response status line peeked at (`HTTP/1.1 401 Unauthorized`): only the code is read. */
const STATUS_PEEK_BYTES = 16;
const STATUS_LINE = /^HTTP\/1\.[01] (\d{3})/;
/** An interim (1xx) response head longer than this ends the peek: the answer is not counted. */
const MAX_INTERIM_BYTES = 1024;

function reject(socket: Socket, status: string, reason: string): void {
  const body = `${status}: ${reason}\n`;
  socket.end(`HTTP/1.1 ${status}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

function expectsContinue(head: RpcRequestHead): boolean {
  return head.version === 'HTTP/1.1' && headerValue(head, 'expect')?.toLowerCase() === '100-continue';
}

export class RpcTunnels {
  private readonly tunnels = new Set<RpcTunnel>();
  private readonly opts: RpcTunnelOptions;
  /** Tunnels waiting for the rest of a request head, with when its first byte came; one sweep timer for all. */
  private readonly heads = new Map<RpcTunnel, number>();
  private sweeper: NodeJS.Timeout | undefined;

  constructor(opts: Omit<RpcTunnelOptions, 'router' | 'pools'>) {
    this.opts = { ...opts, pools: new Map() };
  }

  /** The gateway's one call at start and at every reload: tunnels already open keep their backend connection. */
  apply(runtime: Pick<Runtime, 'router' | 'pools'>): void {
    this.opts.router = runtime.router;
    this.opts.pools = runtime.pools;
  }

  /** The head deadline: a tunnel calls this with its first byte of a head, and `false` when the head is complete. */
  private readonly headPending = (tunnel: RpcTunnel, pending: boolean): void => {
    if (!pending) return void this.heads.delete(tunnel);
    if (this.opts.headersTimeoutMs <= 0 || this.heads.has(tunnel)) return;
    this.heads.set(tunnel, Date.now());
    this.sweeper ??= setInterval(() => this.sweepHeads(), Math.max(10, Math.min(1_000, Math.floor(this.opts.headersTimeoutMs / 4)))).unref();
  };

  private sweepHeads(): void {
    const now = Date.now();
    for (const [tunnel, since] of this.heads) {
      if (now - since < this.opts.headersTimeoutMs) continue;
      this.heads.delete(tunnel);
      this.opts.counts?.fired('head');
      tunnel.refuse('408 Request Timeout', 'the request head did not arrive in time', 'head deadline');
    }
    if (this.heads.size === 0) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }

  get open(): number {
    return this.tunnels.size;
  }

  accept(socket: TLSSocket, head: Buffer): void {
    const tunnel = new RpcTunnel(socket, this.opts, this.headPending, () => {
      this.tunnels.delete(tunnel);
      this.heads.delete(tunnel);
    });
    this.tunnels.add(tunnel);
    tunnel.receive(head);
    socket.on('data', (chunk: Buffer) => tunnel.receive(chunk));
    socket.resume();
  }

  closeAll(reason: string): void {
    for (const t of [...this.tunnels]) t.close(reason);
    clearInterval(this.sweeper);
    this.sweeper = undefined;
  }
}

class RpcTunnel {
  private pending: Buffer = Buffer.alloc(0);
  /** Body bytes of the current request still to pass through before the next head. */
  private bodyLeft = 0;
  private upstream?: Socket;
  private connecting = false;
  private queued: Buffer[] = [];
  private backend?: Backend;
  private route?: Route;
  private untrack?: () => void;
  private closed = false;
  private readonly openedAt = Date.now();
  private bytesIn = 0;
  private bytesOut = 0;
  private channel = '';
  /** One access-log record per request head; it also holds who the client is (clientIp, peerIp). */
  private readonly records: RpcRecords;
  /** The current head's id, sent to the CAS as X-Request-Id. */
  private requestId = '';

  constructor(
    private readonly client: TLSSocket,
    private readonly opts: RpcTunnelOptions,
    private readonly headPending: (tunnel: RpcTunnel, pending: boolean) => void,
    private readonly onClosed: () => void,
  ) {
    this.records = new RpcRecords(client, opts.onRecord);
    client.on('error', () => this.close('client error'));
    client.on('close', () => this.close('client closed'));
    client.on('timeout', () => this.close('idle timeout'));
  }

  /** The TCP peer. */
  private get peerIp(): string {
    return this.records.peerIp;
  }

  /** The client: the peer, or the address a trusted proxy names in the head's X-Forwarded-For (forwarded-client.ts). */
  private get clientIp(): string {
    return this.records.clientIp;
  }

  /** Bytes from the client: request heads are parsed and rewritten, bodies pass through as they are. */
  receive(chunk: Buffer): void {
    if (this.closed) return;
    this.bytesIn += chunk.length;
    let data = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = Buffer.alloc(0);
    while (data.length) {
      if (this.bodyLeft > 0) {
        const take = Math.min(this.bodyLeft, data.length);
        this.bodyLeft -= take;
        this.send(take === data.length ? data : data.subarray(0, take));
        data = data.subarray(take);
        continue;
      }
      const parsed = parseRpcHead(data);
      if (parsed.kind === 'incomplete') {
        this.pending = Buffer.from(data);
        // The head deadline runs from its first byte, whatever comes after (as HTTP's headersTimeout).
        this.headPending(this, true);
        return;
      }
      this.headPending(this, false);
      if (parsed.kind === 'error') {
        this.opts.logger.warn('rpc request refused', { client: this.clientIp, reason: parsed.reason });
        return this.refuse(parsed.tooLarge ? '431 Request Header Fields Too Large' : '400 Bad Request', parsed.reason, 'malformed request', 'BAD_REQUEST', data);
      }
      const head = parsed.head;
      if (!this.admit(head, data.length)) return;
      this.send(this.rewriteHead(head));
      this.expectAnswer();
      this.bodyLeft = head.contentLength;
      data = data.subarray(head.length);
    }
  }

  /**
   * Answers `status` to a head that could not be read (malformed, too large, too slow) and closes: the client is read
   * until it closes (answerAndClose), the backend connection cut. `firstBytes` is what came of the head.
   */
  refuse(status: string, reason: string, logReason: string, code?: FailureCode, firstBytes: Buffer = this.pending): void {
    if (this.finishedOnce) return;
    this.records.beginUnparsed(firstBytes);
    this.closed = true;
    this.upstream?.destroy();
    answerAndClose(this.client, status, reason);
    this.finish(logReason, { status: parseInt(status, 10), ...(code ? { code } : {}), detail: reason });
  }

  /** Answers a refusal with the engine's status and X-Casgate-Error code, and closes; the CAS sees nothing of it. */
  private refuseWith(status: number, code: FailureCode, reason: string, headers?: Record<string, string>): void {
    const text = `${status} ${STATUS_TEXT[status] ?? 'Refused'}`;
    this.closed = true;
    this.upstream?.destroy();
    answerAndClose(this.client, text, reason, code, headers);
    this.finish(code, { status, code, detail: reason });
  }

  /** Answers a head casgate refuses before routing it anywhere (400, 404, 403, 503) and closes. */
  private rejectHead(status: number, code: FailureCode, reason: string, logReason: string): void {
    this.closed = true;
    reject(this.client, `${status} ${REJECT_TEXT[status]}`, reason);
    this.finish(logReason, { status, code, detail: reason });
  }

  /**
   * Spray counting: the account key of the last forwarded head that carried credentials, until the status line of
   * the CAS's answer to it has been read (then undefined). The handshake is sequential (the client waits for each
   * 401 before its next head), so the first upstream bytes after such a head start its response.
   */
  private authKey: string | undefined;
  /** A head was forwarded and the status line of its answer not seen yet (access log; spray counting above). */
  private peeking = false;
  private statusPeek = '';
  /** After a 1xx answer (`100 Continue`): how far into its head, and its last bytes, until the final answer starts. */
  private interim: { seen: number; tail: string } | undefined;

  /**
   * A passive look at the first bytes of the answer to a credentialed head: never buffers or delays the relay. An
   * interim `100 Continue` (the CAS sends it for `Expect: 100-continue`) is skipped to the final answer's status line.
   */
  private peekStatus(chunk: Buffer): void {
    let from = 0;
    while (from < chunk.length && this.peeking) {
      if (this.interim) {
        // Look for the blank line ending the 1xx head (a few bytes; bounded, else give up counting this answer).
        const text = this.interim.tail + chunk.toString('latin1', from, Math.min(chunk.length, from + MAX_INTERIM_BYTES));
        const end = text.indexOf('\r\n\r\n');
        if (end === -1) {
          this.interim.seen += chunk.length - from;
          if (this.interim.seen > MAX_INTERIM_BYTES) this.stopPeeking();
          else this.interim.tail = text.slice(-3);
          return;
        }
        from += end + 4 - this.interim.tail.length;
        this.interim = undefined;
        continue;
      }
      const take = Math.min(chunk.length - from, STATUS_PEEK_BYTES - this.statusPeek.length);
      this.statusPeek += chunk.toString('latin1', from, from + take);
      const m = STATUS_LINE.exec(this.statusPeek);
      if (!m && this.statusPeek.length < STATUS_PEEK_BYTES) return;
      const status = m ? Number(m[1]) : 0;
      if (status >= 100 && status < 200) {
        // Skip the rest of the interim head; its status line so far is where the search for its end starts.
        this.interim = { seen: 0, tail: this.statusPeek };
        this.statusPeek = '';
        from += take;
        continue;
      }
      const key = this.authKey;
      this.stopPeeking();
      if (status) this.records.status(status);
      // The engine's rule: 401 is a failure, 2xx/3xx (the OUT channel's 200) a success.
      if (key !== undefined) this.opts.authProtection?.outcome(key, this.clientIp, status);
    }
  }

  /** A head went to the CAS: the next upstream bytes start its answer, unless an earlier head's is still awaited. */
  private expectAnswer(): void {
    if (this.peeking) return;
    this.peeking = true;
    this.statusPeek = '';
    this.interim = undefined;
  }

  private stopPeeking(): void {
    this.peeking = false;
    this.authKey = undefined;
    this.statusPeek = '';
    this.interim = undefined;
  }

  /** The canonical target (path + query) of the head being admitted: what rewriteHead sends to the CAS. */
  private forwardTarget = '';

  /**
   * The first head picks the route and backend; later heads must stay on an RPC route. Decided, like every other
   * request, on the canonical target and a strict Host (request-target.ts, request-host.ts). `readAhead`: the bytes
   * read from the client that start with this head (its access-log record counts them).
   */
  private admit(head: RpcRequestHead, readAhead: number): boolean {
    this.requestId = this.records.begin(head, readAhead);
    const trustForwarded = this.opts.isTrustedProxy(this.peerIp);
    if (trustForwarded) {
      const forwardedFor = head.headers.filter(([n]) => n.toLowerCase() === 'x-forwarded-for').map(([, v]) => v);
      this.records.clientIp = forwardedClient(this.peerIp, forwardedFor, this.opts.isTrustedProxy);
    }
    // NTLM names the user once, in the type 3 message; the connection's later heads run as that user.
    const identity = identityFromAuthorization(headerValue(head, 'authorization'));
    if (identity) this.records.user = formatIdentity(identity);
    const target = canonicalTarget(head.target);
    const host = target.ok ? requestHost(head.headers.flat(), head.version === 'HTTP/1.0' ? '1.0' : '1.1', trustForwarded) : undefined;
    if (!target.ok || !host?.ok) {
      const reason = !target.ok ? target.reason : host && !host.ok ? host.reason : 'malformed request';
      this.opts.logger.warn('rpc request refused', { client: this.clientIp, reason });
      this.rejectHead(400, !target.ok ? 'BAD_REQUEST' : 'BAD_HOST', reason, 'malformed request');
      return false;
    }
    this.records.routed(host.host);
    // Known exploits, on the canonical target and the head's headers and cookies, exactly as the engine checks (and
    // counts, and logs) them: before routing or any backend.
    const exploit = this.opts.mitigations?.check(target.query ? target.path + target.query : target.path, nodeHeaders(head.headers), this.clientIp);
    if (exploit) {
      // Logged (once per address per minute) and counted by check(), as on the HTTP path.
      this.refuseWith(FAILURES.KNOWN_EXPLOIT.status, 'KNOWN_EXPLOIT', `${exploit.name} (${exploit.cves.join(', ')})`);
      return false;
    }
    const route = this.opts.router?.match(host.host, target.path);
    if (!route || !route.rpc) {
      this.rejectHead(404, 'NO_ROUTE', `${head.method} is not published at this path`, 'no rpc route');
      return false;
    }
    this.records.routed(undefined, route.name, route.pool);
    if (route.allow && !addressIn(route.allow, this.clientIp)) {
      this.rejectHead(403, 'FORBIDDEN_NETWORK', 'this service is not published to your network', 'forbidden network');
      return false;
    }
    // Spray limits: a head with a user's credentials (Basic, NTLM AUTHENTICATE) is refused while that user or this
    // address is locked, and never reaches the CAS; otherwise the CAS's answer to it is counted (peekStatus).
    const shield = this.opts.authProtection;
    if (shield?.enabled) {
      if (identity) {
        if (this.authKey !== undefined) {
          // Credentials pipelined before the answer to the previous ones: that answer could not be told apart from
          // this one's, so a guess would go uncounted. No real client does this (NTLM waits for each 401).
          this.refuseWith(400, 'BAD_REQUEST', 'credentials sent before the answer to the previous ones');
          return false;
        }
        const key = shield.key(identity.user, identity.domain);
        const refusal = shield.admit(key, this.clientIp);
        if (refusal) {
          this.refuseWith(refusal.status, refusal.code, FAILURES[refusal.code].message, refusal.headers);
          return false;
        }
        // The first upstream bytes from now on start the answer to this head (a head without credentials pipelined
        // after it leaves this key waiting: its answer comes second).
        this.authKey = key;
        this.peeking = true;
        this.statusPeek = '';
        this.interim = undefined;
      }
    }
    this.forwardTarget = target.path + target.query;
    if (!this.route) {
      this.route = route;
      this.channel = head.method;
      this.client.setTimeout(route.idleTimeoutMs);
      this.connect(new Set());
    }
    return true;
  }

  private rewriteHead(head: RpcRequestHead): Buffer {
    const raw = head.headers.flat();
    const headers = upstreamRequestHeaders(raw, {
      // Each hop appends its own peer.
      clientIp: this.peerIp,
      trustForwarded: this.opts.isTrustedProxy(this.peerIp),
      listenerPort: this.client.localPort ?? 443,
      fallbackHost: 'localhost',
    });
    // Any X-Request-Id from the client was dropped with the forwarded set: the CAS sees casgate's, as on the HTTP path.
    headers.push('x-request-id', this.requestId);
    // Content-Length is hop-by-hop for nobody: it was kept by upstreamRequestHeaders and sizes the channel.
    let text = `${head.method} ${this.forwardTarget} ${head.version}\r\n`;
    for (let i = 0; i < headers.length; i += 2) text += `${headers[i]}: ${headers[i + 1]}\r\n`;
    // `Expect: 100-continue` goes to the CAS, whose `100 Continue` (or final answer) is relayed like any response
    // bytes: the client sends its body when the server asks for it (RFC 9110 §10.1.1, what HAProxy does).
    if (expectsContinue(head)) text += 'Expect: 100-continue\r\n';
    // Keep the backend connection open across the handshake's requests; it lives as long as the client's.
    text += 'Connection: Keep-Alive\r\n\r\n';
    return Buffer.from(text, 'latin1');
  }

  private send(bytes: Buffer): void {
    if (this.upstream && !this.connecting) {
      if (!this.upstream.write(bytes)) {
        this.client.pause();
        this.upstream.once('drain', () => this.client.resume());
      }
    } else {
      this.queued.push(Buffer.from(bytes));
    }
  }

  private connect(tried: Set<Backend>): void {
    const pool = this.opts.pools.get(this.route!.pool)!;
    const backend = pool.pick({ clientIp: this.clientIp }, tried);
    if (!backend) return this.rejectHead(503, 'NO_BACKEND', `no server is available for this service (pool ${pool.name})`, 'no backend');
    tried.add(backend);
    this.connecting = true;
    this.client.pause();
    connectRaw(backend.origin).then(
      (socket) => this.connected(backend, socket),
      (err: unknown) => {
        this.connecting = false;
        this.opts.logger.warn('rpc backend connect failed', { backend: backend.name, error: describeCause(err) });
        // Nothing was sent yet: the next backend gets the channel.
        if (!this.closed) this.connect(tried);
      },
    );
  }

  private connected(backend: Backend, upstream: Socket): void {
    if (this.closed) return void upstream.destroy();
    this.connecting = false;
    this.upstream = upstream;
    this.backend = backend;
    this.records.connected(backend);
    backend.active++;
    this.untrack = backend.trackLongLived((reason) => this.close(reason));
    upstream.setNoDelay(true);
    upstream.setTimeout(this.route!.idleTimeoutMs);
    upstream.on('data', (chunk: Buffer) => {
      this.bytesOut += chunk.length;
      if (this.peeking) this.peekStatus(chunk);
      if (!this.client.write(chunk)) {
        upstream.pause();
        this.client.once('drain', () => upstream.resume());
      }
    });
    upstream.on('end', () => this.close('backend closed'));
    upstream.on('close', () => this.close('backend closed'));
    upstream.on('error', (err) => this.close(`backend error: ${describeCause(err)}`));
    upstream.on('timeout', () => this.close('idle timeout'));
    for (const bytes of this.queued) upstream.write(bytes);
    this.queued = [];
    this.client.resume();
    this.opts.logger.info('rpc channel open', { client: this.clientIp, channel: this.channel, backend: backend.name, pool: backend.pool });
  }

  close(reason: string): void {
    if (this.finishedOnce) return;
    this.closed = true;
    this.upstream?.destroy();
    // Let the client read what the backend already sent, then close.
    this.client.destroySoon();
    this.finish(reason);
  }

  private finishedOnce = false;
  /** `end`: casgate's own answer to the current head, when it refused it (its access-log record). */
  private finish(reason: string, end?: RpcEnd): void {
    if (this.finishedOnce) return;
    this.finishedOnce = true;
    if (this.backend) {
      this.backend.active--;
      this.untrack?.();
      this.opts.logger.info('rpc channel closed', {
        client: this.clientIp,
        channel: this.channel,
        backend: this.backend.name,
        bytesIn: this.bytesIn,
        bytesOut: this.bytesOut,
        durationS: Math.round((Date.now() - this.openedAt) / 100) / 10,
        reason,
      });
    }
    this.records.end(end ?? { reason });
    this.onClosed();
  }
}
