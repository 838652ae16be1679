// Request ids: a random per-process prefix and a counter, unique enough to join casgate's access log with the CAS's
// (sent as X-Request-Id) and cheap (no crypto per request). Shared by the engine and the Outlook Anywhere tunnel.
const REQUEST_ID_PREFIX = Math.floor(Math.random() * 0xffffffff).toString(16).padStart(8, '0');
let requestCounter = 0;

export function nextRequestId(): string {
  return `${REQUEST_ID_PREFIX}-${(++requestCounter).toString(36)}`;
}
