// NTLM and Negotiate authenticate a TCP connection, not a request (EXCHANGE.md, "NTLM and Negotiate are per
// connection"). Once a client connection starts such a handshake, or is offered one, it gets backend
// connections of its own: never shared with another client (that would serve user B as user A), always to the
// same server, closed when the client connection closes. Basic and anonymous traffic keeps the shared pools.
import type { Socket } from 'node:net';
import type { Client, Dispatcher } from 'undici';
import type { Backend } from '../upstream/backend.js';
import type { UpstreamConnections } from '../upstream/connections.js';

const CONNECTION_AUTH = /^\s*(ntlm|negotiate)(\s|$)/i;

/** True for `Authorization: NTLM ...` / `Negotiate ...`. */
export function isConnectionAuth(authorization: string | undefined): boolean {
  return authorization !== undefined && CONNECTION_AUTH.test(authorization);
}

/** True when a 401 offers NTLM or Negotiate (in any of its WWW-Authenticate lines). */
export function offersConnectionAuth(status: number, responseHeaders: readonly string[]): boolean {
  if (status !== 401) return false;
  for (let i = 0; i < responseHeaders.length; i += 2) {
    if (responseHeaders[i]!.toLowerCase() === 'www-authenticate' && CONNECTION_AUTH.test(responseHeaders[i + 1]!)) return true;
  }
  return false;
}

/** The backend connections owned by one client connection. */
export class PinnedSession {
  private readonly clients = new Map<string, { client: Client; backend: Backend }>();
  private closed = false;
  /** The user the client's NTLM/Negotiate AUTHENTICATE message named (access log, spray protection). */
  user?: string;

  constructor(
    /** Server the client authenticated against; later requests go there while it is available. */
    public serverName: string,
    private readonly connections: UpstreamConnections,
  ) {}

  /** The dedicated connection to `backend`'s origin, opened on first use. */
  dispatcherFor(backend: Backend): Dispatcher {
    let entry = this.clients.get(backend.origin.url);
    if (!entry) {
      entry = { client: this.connections.dedicated(backend.origin), backend };
      backend.pinned++;
      this.clients.set(backend.origin.url, entry);
    }
    return entry.client;
  }

  hasClientFor(backend: Backend): boolean {
    return this.clients.has(backend.origin.url);
  }

  /** Moves the session to another server (the old one failed): its connections are closed, auth restarts. */
  moveTo(serverName: string): void {
    this.releaseClients();
    this.serverName = serverName;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.releaseClients();
  }

  private releaseClients(): void {
    for (const { client, backend } of this.clients.values()) {
      backend.pinned--;
      client.destroy().catch(() => undefined);
    }
    this.clients.clear();
  }
}

export class PinnedSessions {
  private readonly sessions = new WeakMap<Socket, PinnedSession>();
  /** Open sessions, for the admin status and metrics. */
  count = 0;

  constructor(private readonly connections: UpstreamConnections) {}

  get(socket: Socket): PinnedSession | undefined {
    return this.sessions.get(socket);
  }

  pin(socket: Socket, serverName: string): PinnedSession {
    const existing = this.sessions.get(socket);
    if (existing) return existing;
    const session = new PinnedSession(serverName, this.connections);
    this.sessions.set(socket, session);
    this.count++;
    socket.once('close', () => {
      session.close();
      this.count--;
    });
    return session;
  }
}
