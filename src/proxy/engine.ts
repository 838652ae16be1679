// The proxy engine: route → access check → backend choice (NTLM pinning first) → forward → retry or error.
// Retry rules (STYLE.md habit 8): a request whose connection failed before any byte was sent always goes to the
// next available backend; an idempotent request without a body that failed before response headers is retried
// once elsewhere; bodies are never buffered to make a retry possible.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import type { Route } from '../router/route.js';
import type { Router } from '../router/router.js';
import type { Backend } from '../upstream/backend.js';
import type { UpstreamPool } from '../upstream/pool.js';
import { affinityFromCookie, affinitySetCookie } from '../upstream/balancer/cookie.js';
import { addressIn } from './address-check.js';
import { formatIdentity, identityFromAuthorization } from './auth-identity.js';
import { classifyUpstreamError, describeCause, PROXY_ERRORS, type ProxyErrorCode } from './errors.js';
import type { AuthProtection } from './auth-protection/protection.js';
import { peekOwaForm } from './auth-protection/owa-form.js';
import { canonicalForMatching, type Mitigations } from './mitigations.js';
import { ForwardAttempt, type AttemptHooks, type AttemptOutcome } from './forward.js';
import { upstreamRequestHeaders } from './headers.js';
import { isConnectionAuth, offersConnectionAuth, type PinnedSession, type PinnedSessions } from './pinning.js';

export interface RequestRecord {
  startedAt: number;
  durationMs: number;
  clientIp: string;
  method: string;
  url: string;
  host: string;
  httpVersion: string;
  status: number;
  bytesSent: number;
  route?: string;
  pool?: string;
  backend?: string;
  attempts: number;
  pinned: boolean;
  error?: ProxyErrorCode;
  errorDetail?: string;
  userAgent?: string;
  /** Who the request authenticates as (`DOMAIN\\user` or `user`), from Basic or an NTLM AUTHENTICATE message; later
   * requests on an NTLM-authenticated connection carry the connection's user. Never a password or hash. */
  user?: string;
}

export interface EngineOptions {
  router: Router;
  pools: ReadonlyMap<string, UpstreamPool>;
  pins: PinnedSessions;
  /** Peers whose X-Forwarded-For is trusted. */
  isTrustedProxy(ip: string): boolean;
  redirectRootToOwa: boolean;
  /** Known-exploit refusals (exchange.mitigations), checked before routing. */
  mitigations?: Mitigations;
  /** Password-spray limits (exchange.authProtection); consulted only while enabled and for requests with credentials. */
  authProtection?: AuthProtection;
  /** Called once per finished request: access log, metrics. */
  onRecord(record: RequestRecord): void;
  /** Passive health: an attempt on a backend failed in a way that is the backend's fault, or succeeded. */
  onBackendResult?(backend: Backend, ok: boolean, code?: ProxyErrorCode): void;
}

const CLIENT_TIMEOUT_GRACE_MS = 2_000;
const IDEMPOTENT_NO_BODY = new Set(['GET', 'HEAD', 'OPTIONS']);

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

function clientIpOf(socket: Socket): string {
  const ip = socket.remoteAddress ?? '';
  return ip.startsWith('::ffff:') ? ip.slice(7) : ip;
}

/**
 * Per-request state across attempts; also the hooks of its attempts (one object per request instead of a hooks
 * object and two closures per attempt). An attempt's hooks run while `backend` is still the attempt's backend: the
 * next attempt is only started from onEnd.
 */
class ProxiedRequest implements AttemptHooks {
  readonly startedAt = performance.now();
  readonly clientIp: string;
  /** The socket's byte counter at the start, so that keep-alive connections log per-request bytes. */
  readonly bytesAtStart: number;
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
  /** Affinity cookie value sent by the client (pools with `balance: cookie`). */
  affinity?: string;
  /** Unregisters this request from its backend's long-lived exchanges (closed on drain timeout / backend down). */
  untrack?: () => void;
  headers?: string[];
  /** The attempt in progress or the last one. */
  attempt?: ForwardAttempt;
  error?: ProxyErrorCode;
  errorDetail?: string;
  /** formatIdentity() of the request's credentials, or of its pinned connection's. */
  user?: string;
  /** Spray protection: the account key this request's credentials count against, and whether it is an OWA form logon. */
  authKey?: string;
  owaLogon = false;
  /** A body read ahead (the OWA form), forwarded instead of `req`; `bodyComplete`: all of it, so a retry may resend it. */
  body?: Buffer | Readable;
  bodyComplete = false;

  constructor(
    private readonly engine: ProxyEngine,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
  ) {
    this.clientIp = clientIpOf(req.socket);
    this.socket = req.socket;
    this.bytesAtStart = req.socket.bytesWritten;
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
  constructor(private readonly opts: EngineOptions) {}

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    const state = new ProxiedRequest(this, req, res);
    // One listener per request: a ServerResponse always emits 'close', once, a tick after 'finish' when it completed
    // (on(), not once(): no wrapper to build and remove per request).
    // A client that left before the end stops the backend request too, so that an abandoned ActiveSync Ping or
    // MAPI NotificationWait does not hold a CAS connection for an hour.
    res.on('close', () => {
      if (!res.writableFinished) state.error ??= 'CLIENT_ABORTED';
      this.record(state);
      state.attempt?.clientClosed();
    });
    const exploit = this.opts.mitigations?.check(req.url ?? '/', req.headers, state.clientIp);
    if (exploit) return this.fail(state, 'KNOWN_EXPLOIT', `${exploit.name} (${exploit.cves.join(', ')})`);
    const route = this.opts.router.match(req.headers.host, req.url ?? '/');
    if (!route) {
      if (this.opts.redirectRootToOwa && (req.url === '/' || req.url?.startsWith('/?'))) return redirect(res, 302, '/owa/');
      return this.fail(state, 'NO_ROUTE');
    }
    state.route = route;
    if (route.allow && !addressIn(route.allow, state.clientIp)) {
      return this.fail(state, 'FORBIDDEN_NETWORK', `client ${state.clientIp} not in the allow list of ${route.name}`);
    }
    // The client connection gets the route's limit for the life of this request (an ActiveSync Ping's client is
    // silent for up to an hour); Node restores keepAliveTimeout once the response is finished.
    // A grace period over the backend-side limits lets the proxy's own 504 reach the client before its socket is cut.
    const limit =
      route.firstByteTimeoutMs === 0 || route.idleTimeoutMs === 0 ? 0 : Math.max(route.firstByteTimeoutMs, route.idleTimeoutMs) + CLIENT_TIMEOUT_GRACE_MS;
    state.socket.setTimeout(limit);
    state.pool = this.opts.pools.get(route.pool)!;
    if (state.pool.plan.config.balance === 'cookie') state.affinity = affinityFromCookie(req.headers.cookie, state.pool.plan.config.cookieName);
    state.headers = upstreamRequestHeaders(req.rawHeaders, {
      clientIp: state.clientIp,
      trustForwarded: this.opts.isTrustedProxy(state.clientIp),
      listenerPort: req.socket.localPort ?? 443,
      fallbackHost: state.pool.backends[0]?.server.host ?? 'localhost',
    });
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
      if (req.method === 'POST' && route.service === 'owa' && canonicalForMatching(req.url ?? '/').path === '/owa/auth.owa') {
        // OWA forms logon: the user name is in the body; read its first bytes, then forward all of it unchanged.
        state.owaLogon = true;
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
    const refusal = shield.store.admit(state.authKey, state.clientIp);
    if (refusal) {
      const seconds = Math.max(1, Math.ceil(refusal.retryAfterMs / 1000));
      const code = refusal.reason === 'user' ? 'AUTH_USER_LOCKED' : 'AUTH_ADDRESS_LOCKED';
      const extra: Record<string, string> = { 'retry-after': String(seconds) };
      if (shield.refuseWith === 401) extra['www-authenticate'] = 'Basic realm="casgate"';
      this.fail(state, code, `${refusal.reason} over the limit for ${seconds} s more`, shield.refuseWith, extra);
      return false;
    }
    if (state.authKey !== undefined) shield.store.attempt();
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
      if (/[?&]reason=2(&|$)/.test(location)) shield.store.failure(key, state.clientIp);
      else if (!/\/auth\/logon\.aspx/i.test(location)) shield.store.success(key, state.clientIp);
      return;
    }
    if (status === 401) shield.store.failure(key, state.clientIp);
    else if (status >= 200 && status < 400) shield.store.success(key, state.clientIp);
  }

  private chooseBackend(state: ProxiedRequest): Backend | undefined {
    const pool = state.pool!;
    const session = state.session;
    if (session?.serverName) {
      const same = pool.find(session.serverName);
      if (same && same.available() && !state.tried?.has(same)) return same;
    }
    const picked = pool.pick({ clientIp: state.clientIp, affinity: state.affinity }, state.tried);
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
    const poolConfig = state.pool!.plan.config;
    if (poolConfig.balance === 'cookie' && state.affinity !== backend.affinityId) {
      headers.push('set-cookie', affinitySetCookie(poolConfig.cookieName, backend.affinityId));
    }
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
    const bodyUntouched = !hasBody(req) || (state.body ? state.bodyComplete : !req.readableDidRead && !outcome.connected);
    if (failure.beforeSend && bodyUntouched) return this.attempt(state);
    if (IDEMPOTENT_NO_BODY.has(req.method!) && !hasBody(req) && !state.idempotentRetryUsed) {
      state.idempotentRetryUsed = true;
      return this.attempt(state);
    }
    this.fail(state, failure.code, state.errorDetail);
  }

  private fail(state: ProxiedRequest, code: ProxyErrorCode, detail?: string, statusOverride?: number, extraHeaders?: Record<string, string>): void {
    state.error = code;
    if (detail) state.errorDetail = detail;
    const { res } = state;
    if (res.headersSent || res.destroyed) return;
    const { message } = PROXY_ERRORS[code];
    const status = statusOverride ?? PROXY_ERRORS[code].status;
    const poolNote = code === 'NO_BACKEND' && state.pool ? ` (pool ${state.pool.name})` : '';
    const body = `${status} ${message}${poolNote}\n`;
    res.writeHead(status, {
      'content-type': 'text/plain; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      'cache-control': 'no-store',
      'x-casgate-error': code,
      ...extraHeaders,
    });
    res.end(body);
  }

  private record(state: ProxiedRequest): void {
    const { req, res } = state;
    this.opts.onRecord({
      startedAt: state.startedAt,
      durationMs: performance.now() - state.startedAt,
      clientIp: state.clientIp,
      method: req.method ?? '',
      url: req.url ?? '',
      host: req.headers.host ?? '',
      httpVersion: req.httpVersion,
      status: state.error === 'CLIENT_ABORTED' ? 499 : res.statusCode,
      bytesSent: state.socket.bytesWritten - state.bytesAtStart,
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

export function redirect(res: ServerResponse, status: 301 | 302, location: string): void {
  const body = `${status === 301 ? 'Moved Permanently' : 'Found'}: ${location}\n`;
  res.writeHead(status, { location, 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
