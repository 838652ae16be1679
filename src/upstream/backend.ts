// One CAS server as seen by one pool. Health belongs to the (pool, backend) pair, not to the address:
// cas1 can be down for /EWS and up for /owa at the same time (STYLE.md habit 1).
import type { Dispatcher } from 'undici';
import type { ServerConfig } from '../config/schema.js';
import type { Origin } from './connections.js';

export type BackendState = 'healthy' | 'unhealthy' | 'draining' | 'disabled';

export class Backend {
  state: BackendState = 'healthy';
  /** Why the backend is not healthy: probe status and body snippet, error, or admin action. */
  reason = '';
  /** Requests in flight through this pool. */
  active = 0;
  /** Client connections pinned to this backend by NTLM/Negotiate. */
  pinned = 0;
  /** Closers of long-lived exchanges (RPC tunnels, MAPI/ActiveSync/EWS long polls) riding this backend. */
  private readonly longLived = new Set<(reason: string) => void>();

  constructor(
    readonly pool: string,
    /** Replaced on a config reload that keeps this backend (weight, limits). */
    public server: ServerConfig,
    readonly origin: Origin,
    readonly dispatcher: Dispatcher,
  ) {}

  get name(): string {
    return this.server.name;
  }

  /** The one question balancers ask: healthy for this pool, not draining, not full. */
  available(): boolean {
    return this.state === 'healthy' && (this.server.maxConnections === 0 || this.active < this.server.maxConnections);
  }

  /** Registers a long-lived exchange; returns the function that unregisters it. */
  trackLongLived(close: (reason: string) => void): () => void {
    this.longLived.add(close);
    return () => this.longLived.delete(close);
  }

  get longLivedCount(): number {
    return this.longLived.size;
  }

  /** Closes every long-lived exchange on this backend so its clients reconnect elsewhere. */
  closeLongLived(reason: string): number {
    const closers = [...this.longLived];
    this.longLived.clear();
    for (const close of closers) close(reason);
    return closers.length;
  }
}
