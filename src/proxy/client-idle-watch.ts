// The route's idle limit on the client connection while a request is in progress (an ActiveSync Ping's client is
// silent for up to an hour, an OWA client for a few minutes): a client that neither sends nor reads for that long is
// cut, and its CAS request with it (the engine sees the response close).
//
// One sweep timer checks the requests in progress, instead of a socket.setTimeout per request: that cost a Timeout,
// a bound function, a timer-list insert and removal per request, and a timer refresh on every read and write of the
// connection (bench/peers profile, small GETs: about 1 µs of casgate's ~55 µs of CPU per request; more on new
// connections, where every request runs on cold caches). Activity is what Node's own socket timer counts: bytes read
// and bytes handed to the socket. A connection whose client stops reading stops taking bytes once its buffer is full
// (the engine then pauses the CAS), so it goes quiet here and is cut.
import type { Socket } from 'node:net';

/** How often the sweep runs while requests are watched. */
const SWEEP_MS = 1_000;

export interface IdleWatched {
  readonly socket: Socket;
  readonly limitMs: number;
  /** When activity was last seen (or first checked); never before the activity itself, so never an early cut. */
  lastActive: number;
  /** bytesRead + bytesWritten when last checked; NaN before the first check. */
  mark: number;
  /** Not checked before then: a quarter of the limit after the last check (at least one sweep). */
  nextCheck: number;
}

export class ClientIdleWatch {
  private readonly watched = new Set<IdleWatched>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly sweepMs = SWEEP_MS) {}

  /**
   * Watches `socket` until unwatch(); a limit of 0 means none. A cut fires after `limitMs` of silence, and at most a
   * quarter of it plus a sweep later. Nothing is read from the socket here: most requests are over before the first
   * sweep looks at them (on a new connection, each read from the socket's handle costs ~0.5 µs of cold cache).
   */
  watch(socket: Socket, limitMs: number): IdleWatched | undefined {
    if (!(limitMs > 0)) return undefined;
    const w: IdleWatched = { socket, limitMs, lastActive: 0, mark: NaN, nextCheck: 0 };
    this.watched.add(w);
    // Unref'd: a watched request never keeps a process alive on its own.
    this.timer ??= setInterval(this.sweep, this.sweepMs).unref();
    return w;
  }

  unwatch(w: IdleWatched): void {
    this.watched.delete(w);
  }

  readonly sweep = (): void => {
    const now = Date.now();
    for (const w of this.watched) {
      if (now < w.nextCheck) continue;
      if (w.socket.destroyed) {
        this.watched.delete(w);
        continue;
      }
      const mark = activity(w.socket);
      if (mark !== w.mark) {
        // Active at some point since the last check (or, at the first check, maybe): counted from now, which can only
        // make the cut later, never early.
        w.mark = mark;
        w.lastActive = now;
      } else if (now - w.lastActive >= w.limitMs) {
        this.watched.delete(w);
        w.socket.destroy();
        continue;
      }
      w.nextCheck = Math.min(w.lastActive + w.limitMs, now + Math.max(this.sweepMs, w.limitMs / 4));
    }
    if (this.watched.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  };
}

function activity(socket: Socket): number {
  return socket.bytesRead + (socket.bytesWritten ?? 0);
}
