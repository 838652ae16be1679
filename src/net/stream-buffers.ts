// How much of a proxied body may wait in a client connection's write buffer before backpressure stops the CAS side.
// Node's default for a TLS socket (16 KiB) is below one read from the backend (64 KiB): every chunk of a large
// response (OAB files, attachments, MAPI downloads) made `res.write` return false, undici paused the backend socket,
// the client socket drained, undici resumed: a pause/resume round (epoll_ctl calls, a 'drain' event, an event-loop
// turn) per 64 KiB. Backpressure still holds past the mark (test/integration/download-backpressure.test.ts).
//
// Measured and NOT done: raising the backend sockets' read mark too (256 KiB). libuv then kept reading ahead, several
// 64 KiB Buffers queued in the socket, and undici's `socket.read()` concatenated them into one larger Buffer: more
// external memory in flight, full mark-compacts back (0 → 1 to 2 per 100 MiB in `node --trace-gc`) and 10 to 20 %
// more CPU per MiB. bench/RESULTS.md ("What each engine change bought") has the figures.

/** Write side of a client connection: room for two backend reads, so one is accepted while the last is in flight. */
export const CLIENT_WRITE_HIGH_WATER_MARK = 128 * 1024;

/**
 * Raises a socket's write high-water mark after creation. node:tls creates server-side TLSSockets itself, with the
 * default mark and no option to pass one (https.createServer's `highWaterMark` reaches only the raw TCP socket);
 * Writable keeps the mark in its state object, read at every write.
 */
export function setWriteHighWaterMark(socket: NodeJS.WritableStream, bytes: number): void {
  const state = (socket as unknown as { _writableState?: { highWaterMark: number } })._writableState;
  if (state && state.highWaterMark < bytes) state.highWaterMark = bytes;
}
