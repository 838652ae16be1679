// The proxy engine: route → access check → backend choice (NTLM pinning first) → forward → retry or error.
// Retry rules (STYLE.md habit 8): a request whose connection failed before any byte was sent always goes to the
// next available backend; an idempotent request without a body that failed before response headers is retried
// once elsewhere; bodies are never buffered to make a retry possible.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex, Readable } from 'node:stream';
import { MAX_DURATION_MS } from '../config/duration.js';
import { classifyUpstreamError, describeCause, FAILURES, type FailureCode } from '../failure.js';
import { PublishedHosts } from '../router/published-hosts.js';
import { parseHost, requestHost } from '../router/request-host.js';
import { canonicalTarget } from '../router/request-target.js';
import type { Route } from '../config/route.js';
import type { Router } from '../router/router.js';
import type { Runtime } from '../runtime/runtime.js';
import type { Backend } from '../upstream/backend.js';
import type { PickContext } from '../upstream/balancer/balancer.js';
import type { UpstreamPool } from '../upstream/pool.js';
import { addressIn } from './address-check.js';
import { ClientIdleWatch, type IdleWatched } from './client-idle-watch.js';
import { connectionFacts, type ConnectionFacts } from './connection-facts.js';
import type { RequestRecord } from '../logging/request-record.js';
import { formatIdentity, identityFromAuthorization } from './auth-identity.js';
import { forwardedClient } from './forwarded-client.js';
import { nextRequestId } from './request-id.js';
import type { AuthProtection } from './auth-protection/protection.js';
import { peekOwaForm } from './auth-protection/owa-form.js';
import { continueOnce, ForwardAttempt, type AttemptHooks, type AttemptOutcome } from './forward.js';
import { rawHeader, strictTransportSecurity, upstreamRequestHeaders } from './headers.js';
import type { Mitigations } from './mitigations.js';
import { isConnectionAuth, offersConnectionAuth, type PinnedSession, type PinnedSessions } from './pinning.js';

export interface EngineOptions {
  pins: PinnedSessions;
  /** Peers whose X-Forwarded-For is trusted. */
  isTrustedProxy(ip: string): boolean;
  /** Known-exploit refusals (exchange.mitigations), checked before anything else is decided on the request. */
  mitigations?: Mitigations;
  /** Password-spray limits (exchange.authProtection); consulted only while enabled and for requests with credentials. */
  authProtection?: AuthProtection;
  /** Called once per finished request: access log, metrics. */
  onRecord(record: RequestRecord): void;
  /** Passive health: an attempt on a backend failed in a way that is the backend's fault, or succeeded. */
  onBackendResult?(backend: Backend, ok: boolean, code?: FailureCode): void;
}

const CLIENT_TIMEOUT_GRACE_MS = 2_000;
const IDEMPOTENT_NO_BODY = new Set(['GET', 'HEAD', 'OPTIONS']);
/** What a 405 names in `Allow`: the methods Exchange's virtual directories use (RPC_* ride their own path). */
export const ALLOWED_METHODS = 'GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH';
/** TRACE echoes the request, cookies and Authorization included (cross-site tracing). Node's parser refuses TRACK. */
const REFUSED_METHODS = new Set(['TRACE']);

/** Requests that may outlive a drain or a backend going down: routes allowing more than 5 minutes (EWS, MAPI, ActiveSync...). */
const LONG_LIVED_MS = 300_000;
function isLongLived(route: Route): boolean {
  return route.firstByteTimeoutMs === 0 || route.idleTimeoutMs === 0 || route.firstByteTimeoutMs > LONG_LIVED_MS || route.idleTimeoutMs > LONG_LIVED_MS;
}

/** Backend down or drain deadline: cut the request so its client reconnects elsewhere, unless it is younger than `minAgeMs`. */
function closeIfOlder(state: ProxiedRequest, minAgeMs: number): boolean {
  if (performance.now() - state.startedAt < minAgeMs) return false;
  state.res.destroy();
  return true;
}

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/**
 * Per-request state across attempts; also the hooks of its attempts (one object per request instead of a hooks
 * object and two closures per attempt). An attempt's hooks run while `backend` is still the attempt's backend: the
 * next attempt is only started from onEnd.
 */
class ProxiedRequest implements AttemptHooks {
  readonly startedAt = performance.now();
  readonly requestId = nextRequestId();
  /** What is the same for every request of the client connection (addresses, TLS version, SNI). */
  readonly connection: ConnectionFacts;
  /** Node detaches req.socket when the response finishes; keep our own reference. */
  readonly socket: Socket;
  /** The first backend tried; `tried` is only built when a request is retried (rare). */
  firstTried?: Backend;
  private triedSet?: Set<Backend>;
  attempts = 0;
  idempotentRetryUsed = false;
  route?: Route;
  pool?: UpstreamPool;
  backend?: Backend;
  session?: PinnedSession;
  /** What the pool's balancing policy may read about this request (client address, Cookie header). */
  readonly pick: PickContext;
  /** The route's idle limit on the client connection, while the request is in progress. */
  idleWatch?: IdleWatched;
  /** Unregisters this request from its backend's long-lived exchanges (closed on drain timeout / backend down). */
  untrack?: () => void;
  headers?: string[];
  /** The attempt in progress or the last one. */
  attempt?: ForwardAttempt;
  error?: FailureCode;
  errorDetail?: string;
  /** The validated Host (the absolute-form authority when there is one), for the access log. */
  host?: string;
  /** The client's request target as sent (req.url is replaced by the canonical target before forwarding). */
  rawUrl: string;
  /** formatIdentity() of the request's credentials, or of its pinned connection's. */
  user?: string;
  /** Spray protection: the account key this request's credentials count against, and whether it is an OWA form logon. */
  authKey?: string;
  owaLogon = false;
  /** A body read ahead (the OWA form), forwarded instead of `req`; `bodyComplete`: all of it, so a retry may resend it. */
  body?: Buffer | Readable;
  bodyComplete = false;

  /**
   * The client: the TCP peer, or, when the peer is a trusted proxy, the address it names in X-Forwarded-For
   * (forwarded-client.ts). Allow lists, spray limits, balancing and the access log use this one.
   */
  clientIp: string;

  constructor(
    private readonly engine: ProxyEngine,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
  ) {
    this.connection = connectionFacts(req.socket);
    this.clientIp = this.connection.clientIp;
    this.pick = { clientIp: this.clientIp, cookie: req.headers.cookie };
    this.rawUrl = req.url ?? '';
    this.socket = req.socket;
  }

  /** The peer is a trusted proxy: the client is the one its X-Forwarded-For names. */
  clientFromForwarded(isTrusted: (ip: string) => boolean): void {
    this.clientIp = this.pick.clientIp = forwardedClient(this.connection.clientIp, this.req.headers['x-forwarded-for'], isTrusted);
  }

  /** Backends already tried for this request; undefined before the first attempt. */
  get tried(): ReadonlySet<Backend> | undefined {
    if (!this.triedSet && this.firstTried) this.triedSet = new Set([this.firstTried]);
    return this.triedSet;
  }

  addTried(backend: Backend): void {
    if (this.triedSet) this.triedSet.add(backend);
    else if (this.firstTried) this.triedSet = new Set([this.firstTried, backend]);
    else this.firstTried = backend;
  }

  onResponseHead(status: number, headers: string[]): void {
    this.engine.responseHead(this, this.backend!, status, headers);
  }

  onEnd(outcome: AttemptOutcome): void {
    this.engine.attemptEnded(this, this.backend!, outcome);
  }
}

export class ProxyEngine {
  /** Routing tables of the runtime in effect, set by apply(); a request keeps the pool it was routed to. */
  private router?: Router;
  private pools: ReadonlyMap<string, UpstreamPool> = new Map();
  private redirectRootToOwa = false;
  /** tls.hsts as a header value, or undefined when off; added to every answer that has none (from the CAS or casgate). */
  private hsts: string | undefined;
  /** The names an absolute-form target may carry. */
  private publishedHosts = new PublishedHosts([]);
  private readonly idleWatch = new ClientIdleWatch();

  constructor(private readonly opts: EngineOptions) {}

  /** The gateway's one call at start and at every reload. */
  apply(runtime: Pick<Runtime, 'router' | 'pools' | 'config' | 'publishedHosts'>): void {
    this.router = runtime.router;
    this.publishedHosts = runtime.publishedHosts;
    this.pools = runtime.pools;
    this.redirectRootToOwa = runtime.config.exchange?.redirectRootToOwa ?? false;
    this.hsts = strictTransportSecurity(runtime.config.tls.hsts);
  }

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    const state = new ProxiedRequest(this, req, res);
    // One listener per request: a ServerResponse always emits 'close', once, a tick after 'finish' when it completed
    // (on(), not once(): no wrapper to build and remove per request).
    // A client that left before the end stops the backend request too, so that an abandoned ActiveSync Ping or
    // MAPI NotificationWait does not hold a CAS connection for an hour.
    res.on('close', () => {
      if (state.idleWatch) this.idleWatch.unwatch(state.idleWatch);
      if (!res.writableFinished) state.error ??= 'CLIENT_ABORTED';
      this.record(state);
      state.attempt?.clientClosed();
    });
    // Everything below is decided on one canonical request: its path (routing, ACLs, what the CAS receives), its
    // Host and its client. Client errors end here, before any backend is chosen, so they can never count against one.
    const trustForwarded = this.opts.isTrustedProxy(state.connection.clientIp);
    if (trustForwarded) state.clientFromForwarded(this.opts.isTrustedProxy);
    if (REFUSED_METHODS.has(req.method!)) return this.fail(state, 'METHOD_NOT_ALLOWED', `${req.method} is not forwarded`);
    if (req.httpVersion === '1.0' && req.headers['transfer-encoding'] !== undefined) {
      // RFC 9112 §6.1: faulty framing; answer and close, forward nothing.
      res.shouldKeepAlive = false;
      return this.fail(state, 'BAD_REQUEST', 'Transfer-Encoding in an HTTP/1.0 request');
    }
    const target = canonicalTarget(state.rawUrl);
    if (!target.ok) return this.fail(state, 'BAD_REQUEST', target.reason);
    // Known exploits, on the canonical target (the query and any escapes it keeps are decoded further there), before
    // Host, routing or any backend.
    const exploit = this.opts.mitigations?.check(target.query ? target.path + target.query : target.path, req.headers, state.clientIp);
    if (exploit) return this.fail(state, 'KNOWN_EXPLOIT', `${exploit.name} (${exploit.cves.join(', ')})`);
    const checked = requestHost(req.rawHeaders, req.httpVersion, trustForwarded);
    if (!checked.ok) return this.fail(state, 'BAD_HOST', checked.reason);
    let host = checked.host;
    if (target.authority !== undefined) {
      // RFC 9112 §3.2.2: the authority of an absolute-form target replaces Host; it has to be a name we publish.
      const authority = parseHost(target.authority);
      if (!authority.ok) return this.fail(state, 'BAD_HOST', `absolute-form target: ${authority.reason}`);
      if (this.publishedHosts.any && !this.publishedHosts.covers(authority.name)) {
        return this.fail(state, 'BAD_HOST', `absolute-form target names ${authority.name}, which is not published`);
      }
      host = authority.host;
    }
    state.host = host;
    // What the CAS receives (forward.ts sends req.url): the canonical path and the query as sent, origin-form.
    const canonical = target.query ? target.path + target.query : target.path;
    if (canonical !== state.rawUrl) req.url = canonical;
    const route = this.router?.match(host, target.path);
    if (!route) {
      if (this.redirectRootToOwa && target.path === '/') return redirect(res, 302, '/owa/', this.hsts);
      return this.fail(state, 'NO_ROUTE');
    }
    state.route = route;
    if (route.allow && !addressIn(route.allow, state.clientIp)) {
      return this.fail(state, 'FORBIDDEN_NETWORK', `client ${state.clientIp} not in the allow list of ${route.name}`);
    }
    // The client connection gets the route's limit for the life of this request (an ActiveSync Ping's client is
    // silent for up to an hour; client-idle-watch.ts); Node's keepAliveTimeout applies again once the response is
    // finished. A grace period over the backend-side limits lets the proxy's own 504 reach the client before its
    // socket is cut. Capped at the longest duration config/duration.ts allows.
    const limit =
      route.firstByteTimeoutMs === 0 || route.idleTimeoutMs === 0
        ? 0
        : Math.min(Math.max(route.firstByteTimeoutMs, route.idleTimeoutMs) + CLIENT_TIMEOUT_GRACE_MS, MAX_DURATION_MS);
    state.idleWatch = this.idleWatch.watch(state.socket, limit);
    state.pool = this.pools.get(route.pool)!;
    state.headers = upstreamRequestHeaders(req.rawHeaders, {
      // Each hop appends its own peer: the chain goes on with the address casgate's connection came from.
      clientIp: state.connection.clientIp,
      trustForwarded,
      host,
      listenerPort: state.connection.serverPort || 443,
      fallbackHost: state.pool.backends[0]?.server.host ?? 'localhost',
    });
    // Any X-Request-Id from the client was dropped with the hop-by-hop headers: the CAS sees casgate's.
    state.headers.push('x-request-id', state.requestId);
    const authorization = req.headers.authorization;
    state.session = this.opts.pins.get(state.socket);
    if (!state.session && isConnectionAuth(authorization)) {
      // Pinned from this request on; the server is chosen below.
      state.session = this.opts.pins.pin(state.socket, '');
    }
    const shield = this.opts.authProtection;
    if (authorization !== undefined) {
      const identity = identityFromAuthorization(authorization);
      if (identity) {
        state.user = formatIdentity(identity);
        // NTLM's type 3 names the user once; the connection's later requests run as that user.
        if (state.session && identity.scheme !== 'basic') state.session.user = state.user;
        if (shield?.enabled) state.authKey = shield.key(identity.user, identity.domain);
      }
    }
    state.user ??= state.session?.user;
    if (shield?.enabled) {
      if (req.method === 'POST' && route.service === 'owa' && target.path.toLowerCase() === '/owa/auth.owa') {
        // OWA forms logon: the user name is in the body; read its first bytes, then forward all of it unchanged.
        state.owaLogon = true;
        continueOnce(req, res); // a client waiting for 100 Continue would never send the form otherwise
        void peekOwaForm(req).then((form) => {
          state.body = form.body;
          state.bodyComplete = form.complete;
          if (form.username) {
            state.authKey = shield.key(form.username);
            state.user ??= form.username.length > 256 ? form.username.slice(0, 256) : form.username;
          }
          if (this.admitted(state, shield)) this.attempt(state);
        });
        return;
      }
      if (authorization !== undefined && !this.admitted(state, shield)) return;
    }
    this.attempt(state);
  };

  /** Spray limits for a credential-bearing request: false when casgate refused it (it never reaches the CAS). */
  private admitted(state: ProxiedRequest, shield: AuthProtection): boolean {
    if (state.res.destroyed) return false;
    const refusal = shield.admit(state.authKey, state.clientIp);
    if (refusal) {
      this.fail(state, refusal.code, refusal.detail, refusal.status, refusal.headers);
      return false;
    }
    return true;
  }

  /** The CAS's answer to credentials: 401 (or OWA's reason=2 redirect) is a failure, 2xx/3xx a session established. */
  private countOutcome(state: ProxiedRequest, status: number, headers: readonly string[]): void {
    const shield = this.opts.authProtection!;
    const key = state.authKey!;
    if (state.owaLogon) {
      if (status < 300 || status >= 400) return;
      let location = '';
      for (let i = 0; i < headers.length; i += 2) if (headers[i]!.toLowerCase() === 'location') location = headers[i + 1]!;
      if (/[?&]reason=2(&|$)/.test(location)) shield.failure(key, state.clientIp);
      else if (!/\/auth\/logon\.aspx/i.test(location)) shield.success(key, state.clientIp);
      return;
    }
    shield.outcome(key, state.clientIp, status);
  }

  /** CONNECT (Node's server emits 'connect' for it): casgate is not a forward proxy; 405, logged, closed. */
  readonly handleConnect = (req: IncomingMessage, socket: Duplex): void => {
    const startedAt = performance.now();
    const code: FailureCode = 'METHOD_NOT_ALLOWED';
    const body = `405 ${FAILURES[code].message}\n`;
    socket.on('error', () => undefined);
    const head =
      `HTTP/1.1 405 Method Not Allowed\r\nAllow: ${ALLOWED_METHODS}\r\nContent-Type: text/plain; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nCache-Control: no-store\r\nX-Casgate-Error: ${code}\r\nConnection: close\r\n\r\n`;
    socket.end(head + body);
    const connection = connectionFacts(req.socket);
    this.opts.onRecord({
      startedAt,
      durationMs: performance.now() - startedAt,
      clientIp: connection.clientIp,
      serverIp: connection.serverIp,
      serverPort: connection.serverPort,
      bytesReceived: req.socket.bytesRead,
      requestId: nextRequestId(),
      method: req.method ?? 'CONNECT',
      url: req.url ?? '',
      host: req.headers.host ?? '',
      httpVersion: req.httpVersion,
      status: 405,
      bytesSent: Buffer.byteLength(head + body),
      attempts: 0,
      pinned: false,
      error: code,
      userAgent: req.headers['user-agent'],
    });
  };

  private chooseBackend(state: ProxiedRequest): Backend | undefined {
    const pool = state.pool!;
    const session = state.session;
    if (session?.serverName) {
      const same = pool.find(session.serverName);
      if (same && same.available() && !state.tried?.has(same)) return same;
    }
    const picked = pool.pick(state.pick, state.tried);
    if (picked && session && session.serverName !== picked.name) {
      // First pinned request, or the pinned server is gone: the client re-authenticates against the new one.
      session.moveTo(picked.name);
    }
    return picked;
  }

  private attempt(state: ProxiedRequest): void {
    const backend = this.chooseBackend(state);
    if (!backend) {
      return this.fail(state, state.error ?? 'NO_BACKEND', state.errorDetail ?? `pool ${state.pool!.name} has no available server`);
    }
    const session = state.session;
    if (session && backend.pinned >= state.pool!.plan.config.maxPinnedConnections && !session.hasClientFor(backend)) {
      return this.fail(state, 'PINNED_LIMIT', `${backend.name} has ${backend.pinned} pinned connections`);
    }
    state.backend = backend;
    state.addTried(backend);
    state.attempts++;
    backend.active++;
    const { req, res } = state;
    if (isLongLived(state.route!)) state.untrack = backend.trackLongLived((_reason, minAgeMs) => closeIfOlder(state, minAgeMs));
    const attempt = new ForwardAttempt(req, res, backend, state);
    state.attempt = attempt;
    const dispatcher = session ? session.dispatcherFor(backend) : backend.dispatcher;
    attempt.start(dispatcher, state.route!, state.headers!, state.body ?? (hasBody(req) ? req : undefined));
  }

  /** The hooks' onResponseHead, for the attempt on `backend`. */
  responseHead(state: ProxiedRequest, backend: Backend, status: number, headers: string[]): void {
    const setCookie = state.pool!.setCookie(backend, state.pick);
    if (setCookie) headers.push('set-cookie', setCookie);
    // The CAS's own policy (IIS configured per Microsoft's HSTS guidance) wins over casgate's.
    if (this.hsts !== undefined && rawHeader(headers, 'strict-transport-security') === undefined) headers.push('strict-transport-security', this.hsts);
    if (state.authKey !== undefined && this.opts.authProtection?.enabled) this.countOutcome(state, status, headers);
    if (!state.session && offersConnectionAuth(status, headers)) {
      // The next request on this connection carries the NTLM type 1 message: it must start on a
      // connection of its own, to this server.
      state.session = this.opts.pins.pin(state.socket, backend.name);
    }
  }

  /** The hooks' onEnd, for the attempt on `backend`. */
  attemptEnded(state: ProxiedRequest, backend: Backend, outcome: AttemptOutcome): void {
    backend.active--;
    state.untrack?.();
    state.untrack = undefined;
    if (!outcome.error) {
      this.opts.onBackendResult?.(backend, true);
      return;
    }
    const { req, res } = state;
    if (res.destroyed && !outcome.headersSent) {
      // The client left first; the backend is not to blame.
      state.error = 'CLIENT_ABORTED';
      return;
    }
    const failure = classifyUpstreamError(outcome.error, { connected: outcome.connected });
    state.error = failure.code;
    state.errorDetail = `${backend.name}: ${describeCause(failure.cause)}`;
    if (failure.backendFault) this.opts.onBackendResult?.(backend, false, failure.code);
    if (outcome.headersSent) return; // ForwardAttempt already cut the client connection.
    // The request itself was refused (by undici, before sending): another server would refuse it too.
    if (!FAILURES[failure.code].retryElsewhere) return this.fail(state, failure.code, state.errorDetail);
    const bodyUntouched = !hasBody(req) || (state.body ? state.bodyComplete : !req.readableDidRead && !outcome.connected);
    if (failure.beforeSend && bodyUntouched) return this.attempt(state);
    if (IDEMPOTENT_NO_BODY.has(req.method!) && !hasBody(req) && !state.idempotentRetryUsed) {
      state.idempotentRetryUsed = true;
      return this.attempt(state);
    }
    this.fail(state, failure.code, state.errorDetail);
  }

  private fail(state: ProxiedRequest, code: FailureCode, detail?: string, statusOverride?: number, extraHeaders?: Record<string, string>): void {
    state.error = code;
    if (detail) state.errorDetail = detail;
    const { res } = state;
    if (res.headersSent || res.destroyed) return;
    const { message } = FAILURES[code];
    const status = statusOverride ?? FAILURES[code].status;
    const poolNote = code === 'NO_BACKEND' && state.pool ? ` (pool ${state.pool.name})` : '';
    // A client error says what was wrong (fixed texts from request-target.ts and request-host.ts, never an echo).
    const reason = (code === 'BAD_REQUEST' || code === 'BAD_HOST') && detail && !state.backend ? detail : undefined;
    const body = reason ? `${status} ${message.replace(/\.$/, '')}: ${reason}.\n` : `${status} ${message}${poolNote}\n`;
    const headers: Record<string, string | number> = {
      'content-type': 'text/plain; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      'cache-control': 'no-store',
      'x-casgate-error': code,
    };
    if (code === 'METHOD_NOT_ALLOWED') headers.allow = ALLOWED_METHODS;
    if (this.hsts !== undefined) headers['strict-transport-security'] = this.hsts;
    if (extraHeaders) Object.assign(headers, extraHeaders);
    res.writeHead(status, headers);
    res.end(body);
  }

  private record(state: ProxiedRequest): void {
    const { req, res, socket, attempt, connection } = state;
    const { bytesRead, bytesWritten } = socket;
    const bytesReceived = bytesRead - connection.bytesRead;
    const bytesSent = bytesWritten - connection.bytesWritten;
    connection.bytesRead = bytesRead;
    connection.bytesWritten = bytesWritten;
    this.opts.onRecord({
      startedAt: state.startedAt,
      durationMs: performance.now() - state.startedAt,
      clientIp: state.clientIp,
      ...(state.clientIp !== connection.clientIp ? { peerIp: connection.clientIp } : {}),
      serverIp: connection.serverIp,
      serverPort: connection.serverPort,
      bytesReceived,
      backendAddress: state.backend ? `${state.backend.origin.host}:${state.backend.origin.port}` : undefined,
      upstreamConnectMs: attempt?.connectedAt === undefined ? undefined : attempt.connectedAt - state.startedAt,
      upstreamFirstByteMs: attempt?.headersAt === undefined ? undefined : attempt.headersAt - state.startedAt,
      referer: req.headers.referer,
      tlsVersion: connection.tlsVersion,
      sni: connection.sni,
      requestId: state.requestId,
      method: req.method ?? '',
      url: state.rawUrl,
      host: state.host ?? req.headers.host ?? '',
      httpVersion: req.httpVersion,
      status: state.error === 'CLIENT_ABORTED' ? 499 : res.statusCode,
      bytesSent,
      route: state.route?.name,
      pool: state.pool?.name,
      backend: state.backend?.name,
      attempts: state.attempts,
      pinned: state.session !== undefined,
      error: state.error,
      errorDetail: state.errorDetail,
      userAgent: req.headers['user-agent'],
      user: state.user,
    });
  }
}

export function redirect(res: ServerResponse, status: 301 | 302, location: string, hsts?: string): void {
  const body = `${status === 301 ? 'Moved Permanently' : 'Found'}: ${location}\n`;
  res.writeHead(status, {
    location,
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    ...(hsts !== undefined ? { 'strict-transport-security': hsts } : {}),
  });
  res.end(body);
}
