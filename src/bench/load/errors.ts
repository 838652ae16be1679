// Failure kinds as the load generator reports them. One stable key per kind, so results from workers add up and
// runs can be compared: transport failures by what happened to the connection, HTTP failures by status code.

export type ErrorKind = 'connect-refused' | 'reset' | 'timeout' | 'tls' | 'aborted' | `status-${number}` | `other-${string}`;

const RESET_CODES = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'ERR_STREAM_PREMATURE_CLOSE', 'UND_ERR_CLOSED']);
const TIMEOUT_CODES = new Set([
  'ETIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ERR_BENCH_TIMEOUT',
]);
const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

function codeOf(err: unknown): string | undefined {
  if (err && typeof err === 'object' && 'code' in err && typeof (err as { code: unknown }).code === 'string') {
    return (err as { code: string }).code;
  }
  return undefined;
}

function classifyCode(code: string): ErrorKind | undefined {
  if (code === 'ECONNREFUSED') return 'connect-refused';
  if (RESET_CODES.has(code)) return 'reset';
  if (TIMEOUT_CODES.has(code)) return 'timeout';
  if (code === 'UND_ERR_ABORTED' || code === 'ABORT_ERR') return 'aborted';
  if (TLS_CODES.has(code) || code.startsWith('ERR_TLS_') || code.startsWith('ERR_SSL_')) return 'tls';
  return undefined;
}

/**
 * Classifies a transport error. Looks through `cause` chains and AggregateError (Node's happy-eyeballs connect
 * failures) so that undici's wrappers do not hide the socket error beneath.
 */
export function classifyError(err: unknown): ErrorKind {
  const seen = new Set<unknown>();
  let firstCode: string | undefined;
  const queue: unknown[] = [err];
  while (queue.length > 0) {
    const e = queue.shift();
    if (!e || seen.has(e)) continue;
    seen.add(e);
    const code = codeOf(e);
    if (code) {
      firstCode ??= code;
      const kind = classifyCode(code);
      if (kind) return kind;
    }
    if (typeof e === 'object') {
      if ('cause' in e) queue.push((e as { cause: unknown }).cause);
      if (e instanceof AggregateError) queue.push(...e.errors);
    }
  }
  return `other-${firstCode ?? (err instanceof Error ? err.name : 'unknown')}`;
}

/** 2xx and 3xx are successes; anything else is an error of kind `status-<code>`. */
export function classifyStatus(status: number): ErrorKind | undefined {
  return status >= 200 && status < 400 ? undefined : `status-${status}`;
}
