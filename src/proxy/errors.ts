// One error catalog (STYLE.md habit 6): every failure the proxy answers for has a stable code, an HTTP
// status and a short text body. `classifyUpstreamError` maps whatever undici or the socket threw onto it.

export const PROXY_ERRORS = {
  NO_ROUTE: { status: 404, message: 'No published service at this path.' },
  FORBIDDEN_NETWORK: { status: 403, message: 'This service is not published to your network.' },
  // Client errors answered before routing (issue 15): never an upstream attempt, so never a backend's fault.
  /** A request target casgate would not read as IIS does (encoded slash, backslash, `;`, climbing above the root...). */
  BAD_REQUEST: { status: 400, message: 'Malformed request.' },
  /** Missing (HTTP/1.1), duplicate or invalid Host, invalid X-Forwarded-Host from a trusted peer, unpublished absolute-form host. */
  BAD_HOST: { status: 400, message: 'Missing, duplicate or invalid Host.' },
  /** TRACE and CONNECT: answered by casgate with `Allow`, never forwarded. */
  METHOD_NOT_ALLOWED: { status: 405, message: 'Method not allowed.' },
  /** exchange.mitigations: the request has the shape of a known Exchange exploit (refused before any backend). */
  KNOWN_EXPLOIT: { status: 403, message: 'Request refused: it matches a known Exchange exploit.' },
  /** exchange.authProtection: too many failed logons for this user from unfamiliar addresses (never sent to the CAS). */
  AUTH_USER_LOCKED: { status: 429, message: 'Too many failed sign-ins for this account; try again later.' },
  /** exchange.authProtection: too many failed logons, or too many user names, from this client address. */
  AUTH_ADDRESS_LOCKED: { status: 429, message: 'Too many failed sign-ins from your network address; try again later.' },
  NO_BACKEND: { status: 503, message: 'No server is available for this service.' },
  UPSTREAM_CONNECT: { status: 502, message: 'Could not connect to the server.' },
  UPSTREAM_TLS: { status: 502, message: 'The server presented a certificate that did not verify.' },
  UPSTREAM_RESET: { status: 502, message: 'The server closed the connection before answering.' },
  UPSTREAM_TIMEOUT: { status: 504, message: 'The server did not answer in time.' },
  UPSTREAM_PROTOCOL: { status: 502, message: 'The server sent an invalid response.' },
  PINNED_LIMIT: { status: 503, message: 'Too many authenticated connections to this server.' },
  /** The gateway itself is out of descriptors or memory (EMFILE...): not the server's fault, never held against it. */
  GATEWAY_EXHAUSTED: { status: 503, message: 'The gateway has no connection to spare; try again later.' },
  /** Logged, never sent: the client went away (nginx's 499). */
  CLIENT_ABORTED: { status: 499, message: 'Client closed the connection.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ProxyErrorCode = keyof typeof PROXY_ERRORS;

export interface ClassifiedError {
  code: ProxyErrorCode;
  /** The connection failed before any byte of the request was sent: always safe to try the next server. */
  beforeSend: boolean;
  /** Counts against the backend for passive health (not a client problem, not a 4xx). */
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

export function classifyUpstreamError(err: unknown, { connected }: { connected: boolean }): ClassifiedError {
  const code = errorCode(err);
  // undici refused the request before sending it (a header it will not send, such as a second Host): the request is
  // the problem, whatever server it was meant for. Never retried, never counted against the backend.
  if (code === 'UND_ERR_INVALID_ARG') return { code: 'BAD_REQUEST', beforeSend: false, backendFault: false, cause: err };
  if (LOCAL_EXHAUSTION_CODES.has(code)) return { code: 'GATEWAY_EXHAUSTED', beforeSend: !connected, backendFault: false, cause: err };
  if (isTlsVerificationError(code)) return { code: 'UPSTREAM_TLS', beforeSend: true, backendFault: true, cause: err };
  if (!connected || CONNECT_CODES.has(code)) return { code: 'UPSTREAM_CONNECT', beforeSend: !connected || CONNECT_CODES.has(code), backendFault: true, cause: err };
  if (TIMEOUT_CODES.has(code)) return { code: 'UPSTREAM_TIMEOUT', beforeSend: false, backendFault: true, cause: err };
  if (PROTOCOL_CODES.has(code) || code.startsWith('HPE_')) return { code: 'UPSTREAM_PROTOCOL', beforeSend: false, backendFault: true, cause: err };
  return { code: 'UPSTREAM_RESET', beforeSend: false, backendFault: true, cause: err };
}

export function describeCause(err: unknown): string {
  const code = errorCode(err);
  const message = err instanceof Error ? err.message : String(err);
  return code && !message.includes(code) ? `${code} ${message}` : message;
}
