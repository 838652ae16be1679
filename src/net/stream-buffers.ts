// How much a proxied body may sit in casgate's stream buffers before backpressure stops the side that produces it.
// Node's defaults (16 KiB on a TLS socket's write side, 64 KiB on undici's backend sockets) are below the size of one
// read from the backend (64 KiB): every chunk of a large response (OAB files, attachments, MAPI downloads) made
// `res.write` return false, undici paused the backend socket, the client socket drained, undici resumed: a
// pause/resume round (two epoll_ctl calls, a 'drain' event, an event-loop turn) per 64 KiB. bench/RESULTS.md ("What
// each engine change bought") has the measurement. Backpressure still holds: past these marks the producer waits.

/** Write side of a client connection: room for two backend reads, so one is accepted while the last is in flight. */
export const CLIENT_WRITE_HIGH_WATER_MARK = 128 * 1024;

/**
 * Read side of a plain-HTTP backend connection (SSL offload): a 64 KiB read no longer fills the buffer by itself, so
 * libuv keeps reading instead of stopping after each read. TLS backend sockets keep undici's 16 KiB (bridged
 * traffic, /EWS/mrsproxy.svc, is not where large downloads go).
 */
export const BACKEND_READ_HIGH_WATER_MARK = 256 * 1024;

/**
 * Raises a socket's write high-water mark after creation. node:tls creates server-side TLSSockets itself, with the
 * default mark and no option to pass one (https.createServer's `highWaterMark` reaches only the raw TCP socket);
 * Writable keeps the mark in its state object, read at every write.
 */
export function setWriteHighWaterMark(socket: NodeJS.WritableStream, bytes: number): void {
  const state = (socket as unknown as { _writableState?: { highWaterMark: number } })._writableState;
  if (state && state.highWaterMark < bytes) state.highWaterMark = bytes;
}
