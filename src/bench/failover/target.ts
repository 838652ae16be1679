// What a failover run measures and acts on: the built-in lab (lab.ts: mock CAS processes and casgate in this process)
// or a casgate already running somewhere (remote.ts: any URL, its admin API for drain/enable and availability).
import type { AvailabilityChange, EventAction } from './timeline.js';

/** TLS settings shared by the HTTP clients (undici `connect`) and the raw RPC tunnel sockets. */
export interface ClientTls {
  /** PEM CA bundle; absent with `rejectUnauthorized: false` or when the system store is meant. */
  ca?: string;
  servername: string;
  rejectUnauthorized?: boolean;
}

export interface FailoverTarget {
  /** `https://host:port` the clients send to. */
  readonly origin: string;
  readonly host: string;
  readonly port: number;
  readonly tls: ClientTls;
  /** Backend names known before the run (the lab's cas1..casN, or the remote casgate's servers from its admin API). */
  readonly serverNames: string[];
  /** When each backend left and rejoined its pools; empty when the target cannot tell (remote without --admin). */
  readonly availability: AvailabilityChange[];
  /** How the report names the gateway: `in-process` or the remote URL. */
  readonly description: string;
  startSampling(t0: number): void;
  act(action: EventAction, server: string): Promise<void>;
  stop(): Promise<void>;
}
