// One error catalog (STYLE.md habit 6): every failure the proxy answers for has a stable code, an HTTP
// status and a short text body. `classifyUpstreamError` maps whatever undici or the socket threw onto it.

export const PROXY_ERRORS = {
  NO_ROUTE: { status: 404, message: 'No published service at this path.' },
  FORBIDDEN_NETWORK: { status: 403, message: 'This service is not published to your network.' },
  BAD_REQUEST: { status: 400, message: 'Malformed request.' },
  NO_BACKEND: { status: 503, message: 'No server is available for this service.' },
  UPSTREAM_CONNECT: { status: 502, message: 'Could not connect to the server.' },
  UPSTREAM_TLS: { status: 502, message: 'The server presented a certificate that did not verify.' },
  UPSTREAM_RESET: { status: 502, message: 'The server closed the connection before answering.' },
  UPSTREAM_TIMEOUT: { status: 504, message: 'The server did not answer in time.' },
  UPSTREAM_PROTOCOL: { status: 502, message: 'The server sent an invalid response.' },
  PINNED_LIMIT: { status: 503, message: 'Too many authenticated connections to this server.' },
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
