// The failure vocabulary, one decision per code (STYLE.md habit 6): every failure casgate answers for has a stable
// code, an HTTP status, a short text body, whose fault it is and whether another server may be tried. It sits below
// proxy/ and upstream/ because both decide with it: the engine answers and retries, passive health counts, active
// health tells a backend's failure from the gateway's own. `classifyUpstreamError` maps whatever undici or the socket
// threw onto a code.

/**
 * Whose fault a failure is. `client`: the request or the client (never an upstream attempt, never held against a
 * backend). `gateway`: casgate itself (no route, no server, out of descriptors). `backend`: the attempt on a server
 * failed; reported to the upstream error counters and, when `ejects`, to passive health.
 */
export type Fault = 'client' | 'gateway' | 'backend';

interface Failure {
  status: number;
  message: string;
  fault: Fault;
  /** Counts toward passive-health ejection (outlier.consecutiveFailures). Only for `backend` faults. */
  ejects: boolean;
  /** Another server may be tried (within the engine's retry rules); false when every server would fail the same way. */
  retryElsewhere: boolean;
}

export const FAILURES = {
  NO_ROUTE: { status: 404, message: 'No published service at this path.', fault: 'client', ejects: false, retryElsewhere: false },
  FORBIDDEN_NETWORK: { status: 403, message: 'This service is not published to your network.', fault: 'client', ejects: false, retryElsewhere: false },
  // Client errors answered before routing (issue 15): never an upstream attempt, so never a backend's fault.
  /** A request target casgate would not read as IIS does (encoded slash, backslash, `;`, climbing above the root...);
   * also a request undici refuses to send (a second Host): another server would refuse it too. */
  BAD_REQUEST: { status: 400, message: 'Malformed request.', fault: 'client', ejects: false, retryElsewhere: false },
  /** Missing (HTTP/1.1), duplicate or invalid Host, invalid X-Forwarded-Host from a trusted peer, unpublished absolute-form host. */
  BAD_HOST: { status: 400, message: 'Missing, duplicate or invalid Host.', fault: 'client', ejects: false, retryElsewhere: false },
  /** TRACE and CONNECT: answered by casgate with `Allow`, never forwarded. */
  METHOD_NOT_ALLOWED: { status: 405, message: 'Method not allowed.', fault: 'client', ejects: false, retryElsewhere: false },
  /** exchange.mitigations: the request has the shape of a known Exchange exploit (refused before any backend). */
  KNOWN_EXPLOIT: { status: 403, message: 'Request refused: it matches a known Exchange exploit.', fault: 'client', ejects: false, retryElsewhere: false },
  /** exchange.authProtection: too many failed logons for this user from unfamiliar addresses (never sent to the CAS). */
  AUTH_USER_LOCKED: { status: 429, message: 'Too many failed sign-ins for this account; try again later.', fault: 'client', ejects: false, retryElsewhere: false },
  /** exchange.authProtection: too many failed logons, or too many user names, from this client address. */
  AUTH_ADDRESS_LOCKED: { status: 429, message: 'Too many failed sign-ins from your network address; try again later.', fault: 'client', ejects: false, retryElsewhere: false },
  NO_BACKEND: { status: 503, message: 'No server is available for this service.', fault: 'gateway', ejects: false, retryElsewhere: false },
  UPSTREAM_CONNECT: { status: 502, message: 'Could not connect to the server.', fault: 'backend', ejects: true, retryElsewhere: true },
  /**
   * The server's certificate did not verify (CA, pin or name). Counted as the backend's in the upstream error
   * metrics, but it does not eject: it is a configuration mismatch, usually the same on every CAS of the pool, and
   * ejecting would only empty the pool; active health reports it per server.
   */
  UPSTREAM_TLS: { status: 502, message: 'The server presented a certificate that did not verify.', fault: 'backend', ejects: false, retryElsewhere: true },
  UPSTREAM_RESET: { status: 502, message: 'The server closed the connection before answering.', fault: 'backend', ejects: true, retryElsewhere: true },
  UPSTREAM_TIMEOUT: { status: 504, message: 'The server did not answer in time.', fault: 'backend', ejects: true, retryElsewhere: true },
  UPSTREAM_PROTOCOL: { status: 502, message: 'The server sent an invalid response.', fault: 'backend', ejects: true, retryElsewhere: true },
  PINNED_LIMIT: { status: 503, message: 'Too many authenticated connections to this server.', fault: 'gateway', ejects: false, retryElsewhere: false },
  /** The gateway itself is out of descriptors or memory (EMFILE...): not the server's fault, never held against it. */
  GATEWAY_EXHAUSTED: { status: 503, message: 'The gateway has no connection to spare; try again later.', fault: 'gateway', ejects: false, retryElsewhere: true },
  /** Logged, never sent: the client went away (nginx's 499). */
  CLIENT_ABORTED: { status: 499, message: 'Client closed the connection.', fault: 'client', ejects: false, retryElsewhere: false },
} as const satisfies Record<string, Failure>;

export type FailureCode = keyof typeof FAILURES;

/** Passive health's question: does this code count toward ejecting the backend? Unknown codes do not. */
export function ejects(code: string): boolean {
  return (FAILURES as Record<string, Failure>)[code]?.ejects === true;
}

export interface ClassifiedError {
  code: FailureCode;
  /** The connection failed before any byte of the request was sent: always safe to try the next server. */
  beforeSend: boolean;
  /** The attempt's failure is the backend's (FAILURES[code].fault): reported to the upstream error counters. */
  backendFault: boolean;
  cause: unknown;
}

const CONNECT_CODES = new Set([
  'ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT', 'EADDRNOTAVAIL',
]);
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);
/**
 * The gateway's own limits: its descriptor limit (EMFILE; 2 descriptors per proxied long poll), the system's (ENFILE),
 * kernel buffers or memory. Counting them against the backend would eject a healthy CAS from its pools and cut every
 * long-lived request it holds (seen with 20,000 ActiveSync Pings under a 20,000-descriptor limit).
 */
const LOCAL_EXHAUSTION_CODES = new Set(['EMFILE', 'ENFILE', 'ENOBUFS', 'ENOMEM']);

export function isLocalExhaustion(err: unknown): boolean {
  return LOCAL_EXHAUSTION_CODES.has(errorCode(err));
}
const PROTOCOL_CODES = new Set(['HPE_INVALID_CONSTANT', 'UND_ERR_INFO', 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH', 'HPE_INVALID_HEADER_TOKEN']);

function errorCode(err: unknown): string {
  const e = err as { code?: unknown; cause?: { code?: unknown } };
  return String(e?.code ?? e?.cause?.code ?? '');
}

export function isTlsVerificationError(code: string): boolean {
  return code === 'CASGATE_PIN_MISMATCH' || code.startsWith('ERR_TLS_') || /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)/.test(code);
}

function classified(code: FailureCode, beforeSend: boolean, cause: unknown): ClassifiedError {
  return { code, beforeSend, backendFault: FAILURES[code].fault === 'backend', cause };
}

export function classifyUpstreamError(err: unknown, { connected }: { connected: boolean }): ClassifiedError {
  const code = errorCode(err);
  // undici refused the request before sending it (a header it will not send, such as a second Host): the request is
  // the problem, whatever server it was meant for. Never retried, never counted against the backend.
  if (code === 'UND_ERR_INVALID_ARG') return classified('BAD_REQUEST', false, err);
  if (LOCAL_EXHAUSTION_CODES.has(code)) return classified('GATEWAY_EXHAUSTED', !connected, err);
  if (isTlsVerificationError(code)) return classified('UPSTREAM_TLS', true, err);
  if (!connected || CONNECT_CODES.has(code)) return classified('UPSTREAM_CONNECT', !connected || CONNECT_CODES.has(code), err);
  if (TIMEOUT_CODES.has(code)) return classified('UPSTREAM_TIMEOUT', false, err);
  if (PROTOCOL_CODES.has(code) || code.startsWith('HPE_')) return classified('UPSTREAM_PROTOCOL', false, err);
  return classified('UPSTREAM_RESET', false, err);
}

export function describeCause(err: unknown): string {
  const code = errorCode(err);
  const message = err instanceof Error ? err.message : String(err);
  return code && !message.includes(code) ? `${code} ${message}` : message;
}
