// The runtime a config becomes: what provisioning produces (every file read, every name resolved, nothing
// listening) and what a swap hands to every consumer in one synchronous call. Plain objects, no behaviour, so that
// the same object can be built once and handed to whoever serves traffic.
import type { Plan } from '../config/plan.js';
import type { Config } from '../config/schema.js';
import type { PublishedHosts } from '../router/published-hosts.js';
import type { Router } from '../router/router.js';
import type { CertStore } from '../tls/cert-store.js';
import type { LoadedCertificate } from '../tls/certificate.js';
import type { UpstreamPool } from '../upstream/pool.js';

/** A config that passed every step but listening: `casgate check` prints it, `run` starts from it, a reload swaps it in. */
export interface Provisioned {
  /** The config file it came from ('(config)' when built from an object). */
  readonly file: string;
  readonly config: Config;
  readonly plan: Plan;
  /** In config order; the first is the default for clients without SNI. */
  readonly certificates: readonly LoadedCertificate[];
  /** TLS contexts for the front end, one per certificate, chosen by SNI. */
  readonly store: CertStore;
  readonly router: Router;
  /** The names casgate publishes: what an absolute-form target may name and where the HTTP redirect may point. */
  readonly publishedHosts: PublishedHosts;
  /** Content of every `pools.<name>.tls.ca` file, by resolved path (backend connections are verified against it). */
  readonly caFiles: ReadonlyMap<string, string>;
  /** TLS session ticket key read from tls.ticketKeyFile (48 bytes); undefined = a random key per process. */
  readonly ticketKey?: Buffer;
  /** Certificates and the published names they cover; lines starting with `warning:` are warnings. */
  readonly coverage: readonly string[];
  /** Settings that work but deserve an admin's attention (verification off, Extended Protection with offloading). */
  readonly warnings: readonly string[];
}

/** The runtime in effect: a provisioned config and the pools built from it when it was swapped in. */
export interface Runtime extends Provisioned {
  readonly pools: ReadonlyMap<string, UpstreamPool>;
}

/**
 * Anything that serves from the runtime (engine, RPC tunnels, health checker, outlier detector, admin). The gateway
 * calls apply on each, in one synchronous pass, at start and at every reload; nobody polls for a change.
 */
export interface RuntimeConsumer {
  apply(runtime: Runtime): void;
}
