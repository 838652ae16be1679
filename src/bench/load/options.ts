// Options of `casgate bench load` and the result it produces. Plain data only: options cross to worker threads as they are.
import type { LatencySummary } from './histogram.js';
import type { MixSpec } from './mix.js';

export interface TlsOptions {
  /** Skip certificate verification (default false). */
  insecure?: boolean;
  /** PEM CA bundle (contents, not a path) to verify the target with. */
  ca?: string;
  /** SNI name and the name checked against the certificate (default: the URL's host). */
  servername?: string;
}

export interface LoadOptions {
  /** Target URL; its path is the one requested in single-URL mode (required unless the mix gives one). */
  url?: string;
  /** Exchange mix; when absent, every request is `method url`. */
  mix?: MixSpec;
  /** Request method in single-URL mode (default GET). */
  method?: string;
  /** Extra request headers in single-URL mode. */
  headers?: Record<string, string>;
  /** Request body in single-URL mode. */
  body?: string;
  /** Keep-alive connections in total, split across workers (default 32). In closed loop, one request in flight on each. */
  connections?: number;
  /** Open loop: requests per second in total. Latency is measured from each request's intended send time. */
  rate?: number;
  /** Measured time in seconds (default 10). */
  durationS?: number;
  /** Time in seconds before measuring starts, at the same load (default 2). */
  warmupS?: number;
  /** Worker threads, one per core to use (default 1: the calling thread does the work). */
  workers?: number;
  /** Per-request timeout in seconds, for headers and between body chunks (default 30). */
  timeoutS?: number;
  /** Open loop: most requests in flight or queued per worker before sending falls behind schedule (default 10000). */
  maxInflight?: number;
  /** A new connection (and full TLS handshake, no session resumption) for every request (default false). */
  freshConnections?: boolean;
  tls?: TlsOptions;
  /** Called about once a second with the totals so far (main thread only). */
  onProgress?: (p: Progress) => void;
}

export interface Progress {
  elapsedS: number;
  phase: 'warmup' | 'measure' | 'drain';
  completed: number;
  errors: number;
}

export interface KindResult {
  completed: number;
  errors: number;
  latencyMs: LatencySummary;
}

export interface HeldResult {
  /** ActiveSync Pings answered while measuring, and Pings still held at the end. */
  activesync?: { concurrent: number; answered: number; errors: Record<string, number>; heldAtEnd: number; latencyMs: LatencySummary };
  /** RPC tunnels (RPC_IN_DATA + RPC_OUT_DATA pairs) carrying a trickle. */
  rpc?: {
    tunnels: number;
    opened: number;
    lost: number;
    errors: Record<string, number>;
    bytesSent: number;
    bytesReceived: number;
    setupMs: LatencySummary;
  };
}

export interface LoadResult {
  tool: 'casgate bench load';
  startedAt: string;
  target: string;
  mode: 'closed-loop' | 'open-loop';
  workload: 'single-url' | 'exchange-mix';
  connections: number;
  /** Requested rate in open loop. */
  rate?: number;
  workers: number;
  freshConnections: boolean;
  durationS: number;
  warmupS: number;
  requests: {
    /** Responses received while measuring (any status). */
    completed: number;
    /** 2xx and 3xx. */
    ok: number;
    /** Transport errors and non-2xx/3xx statuses. */
    errors: number;
    /** Open loop: requests due while measuring that had no response by the end (their wait so far is in the histogram). */
    unfinished: number;
  };
  errors: Record<string, number>;
  statusCodes: Record<string, number>;
  throughput: { requestsPerS: number; bytes: number; mibPerS: number };
  latencyMs: LatencySummary;
  kinds: Record<string, KindResult>;
  held: HeldResult;
  /** The merged latency histogram (µs), HdrHistogram compressed base64, for tools that merge runs. */
  histogram: string;
}
