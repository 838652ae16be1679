// The mock's mutable state: what the control endpoint has scripted (faults, health, maintenance) and the
// counters that tests read back through stats(). One instance per mock server; nothing here is global.
import type { Socket } from 'node:net';
import { underPrefix } from './paths.js';
import { Directory, loadDirectoryFile, type DirectoryConfig, type DirectoryStats } from './directory.js';

/** A scripted answer for one vdir's healthcheck.htm. */
export interface HealthOverride {
  status: number;
  body?: string;
  delayMs?: number;
}

export interface LatencyRule {
  prefix: string;
  ms: number;
}

export interface ErrorRule {
  prefix: string;
  status: number;
  /** Share of matching requests that fail, 0..1 (default 1). */
  ratio: number;
}

/** What the mock knows about one accepted TCP (or TLS) connection; NTLM state lives here because NTLM is per connection. */
export interface ConnInfo {
  id: number;
  tls: boolean;
  socket: Socket;
  remoteAddress: string;
  remotePort: number;
  /** Requests seen so far on this connection (the current one included once counted). */
  requests: number;
  /** DOMAIN\user once an NTLM/Negotiate handshake completed on this connection. */
  user: string | null;
  /** Who authenticated it: a later request from someone else on this connection is a violation. */
  authClient: ClientIdentity | null;
  /** Server challenge of a type 2 sent on this connection, awaiting the type 3. */
  pendingChallenge: Buffer | null;
}

/** How the mock tells clients apart behind a proxy: the test's own header, else X-Forwarded-For. */
export interface ClientIdentity {
  testClient: string | null;
  forwardedFor: string | null;
}

export interface NtlmViolation {
  kind: 'split-handshake' | 'foreign-client';
  connectionId: number;
  path: string;
  detail: string;
  at: string;
}

export interface MockStats {
  name: string;
  maintenance: boolean;
  accepting: boolean;
  /** Requests served (control requests excluded; /__mock/bytes and /__mock/static count under "mock"). */
  requests: number;
  requestsByVdir: Record<string, number>;
  openConnections: number;
  totalConnections: number;
  /** Open connections that completed an NTLM/Negotiate handshake. */
  authenticatedConnections: number;
  ntlmHandshakes: number;
  ntlmViolations: number;
  /** The last 50 violations, oldest first. */
  violations: NtlmViolation[];
  activeLongPolls: { mapi: number; activesync: number; ews: number };
  activeRpcChannels: { in: number; out: number };
  rpcBytesIn: number;
  rpcBytesOut: number;
  /** Connections destroyed by reset-connections; responses replaced by errors. */
  resets: number;
  injectedErrors: number;
  /** Logons against the mock's user directory: successes, failures, lockouts, bad passwords per account. */
  directory: DirectoryStats;
}

export class MockState {
  maintenance = false;
  accepting = true;
  readonly health = new Map<string, HealthOverride>();
  latency: LatencyRule[] = [];
  errors: ErrorRule[] = [];
  /** Path prefixes whose requests get their connection destroyed; empty = off. */
  resetPrefixes: string[] = [];

  readonly connections = new Set<ConnInfo>();
  private nextConnId = 1;
  readonly counters = {
    requests: 0,
    totalConnections: 0,
    ntlmHandshakes: 0,
    resets: 0,
    injectedErrors: 0,
    rpcBytesIn: 0,
    rpcBytesOut: 0,
  };
  readonly requestsByVdir: Record<string, number> = {};
  readonly violations: NtlmViolation[] = [];
  ntlmViolations = 0;
  readonly longPolls = { mapi: 0, activesync: 0, ews: 0 };
  /** Answers each held ActiveSync Ping now, as when its heartbeat ends (control `answer-pings`). */
  readonly heldPings = new Set<() => void>();
  readonly rpcChannels = { in: 0, out: 0 };

  readonly directory: Directory;

  constructor(readonly name: string, directory?: DirectoryConfig) {
    this.directory = new Directory(directory ?? loadDirectoryFile());
  }

  /** Clear everything the control endpoint scripted; counters stay (they describe what happened). */
  resetScript(): void {
    this.maintenance = false;
    this.health.clear();
    this.latency = [];
    this.errors = [];
    this.resetPrefixes = [];
  }

  openConnection(socket: Socket, tls: boolean): ConnInfo {
    const conn: ConnInfo = {
      id: this.nextConnId++,
      tls,
      socket,
      remoteAddress: socket.remoteAddress ?? '',
      remotePort: socket.remotePort ?? 0,
      requests: 0,
      user: null,
      authClient: null,
      pendingChallenge: null,
    };
    this.connections.add(conn);
    this.counters.totalConnections++;
    socket.once('close', () => this.connections.delete(conn));
    return conn;
  }

  countRequest(conn: ConnInfo, vdir: string): void {
    conn.requests++;
    this.counters.requests++;
    this.requestsByVdir[vdir] = (this.requestsByVdir[vdir] ?? 0) + 1;
  }

  recordViolation(v: Omit<NtlmViolation, 'at'>): void {
    this.ntlmViolations++;
    this.violations.push({ ...v, at: new Date().toISOString() });
    if (this.violations.length > 50) this.violations.shift();
  }

  latencyFor(lowerPath: string): number {
    let ms = 0;
    for (const r of this.latency) if (underPrefix(lowerPath, r.prefix)) ms = Math.max(ms, r.ms);
    return ms;
  }

  /** The status to fail this request with, or 0; the ratio is drawn per request. */
  errorFor(lowerPath: string): number {
    for (const r of this.errors) {
      if (underPrefix(lowerPath, r.prefix) && Math.random() < r.ratio) return r.status;
    }
    return 0;
  }

  shouldReset(lowerPath: string): boolean {
    return this.resetPrefixes.some((p) => underPrefix(lowerPath, p));
  }

  snapshot(): MockStats {
    let authenticated = 0;
    for (const c of this.connections) if (c.user !== null) authenticated++;
    return {
      name: this.name,
      maintenance: this.maintenance,
      accepting: this.accepting,
      requests: this.counters.requests,
      requestsByVdir: { ...this.requestsByVdir },
      openConnections: this.connections.size,
      totalConnections: this.counters.totalConnections,
      authenticatedConnections: authenticated,
      ntlmHandshakes: this.counters.ntlmHandshakes,
      ntlmViolations: this.ntlmViolations,
      violations: [...this.violations],
      activeLongPolls: { ...this.longPolls },
      activeRpcChannels: { ...this.rpcChannels },
      rpcBytesIn: this.counters.rpcBytesIn,
      rpcBytesOut: this.counters.rpcBytesOut,
      resets: this.counters.resets,
      injectedErrors: this.counters.injectedErrors,
      directory: this.directory.stats(),
    };
  }
}
