// The configuration contract: every key, its type, its default and what it means, in one place.
// YAML is parsed into this shape once (load.ts); runtime objects are built only from the typed result,
// so nothing downstream re-checks raw input. Unknown keys are errors (strictObject), not silently ignored.
import { isIP } from 'node:net';
import { z } from 'zod';
import { MAX_DURATION_MS, parseDuration } from './duration.js';
import { EXCHANGE_SERVICES, INTERNAL_NETWORKS } from './exchange.js';
import { crossReferenceProblems } from './cross-references.js';
import { MITIGATION_NAMES } from './exchange-mitigations.js';
import { DEFAULT_WORKER_FLAGS, WORKER_FLAG_SYNTAX } from './worker-flags.js';

/** A duration such as `5s`, `500ms`, `30m`, `1h`, parsed to milliseconds. `0` = no limit. */
const duration = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const ms = typeof value === 'number' ? (value === 0 ? 0 : undefined) : parseDuration(value);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `expected a duration like 500ms, 5s, 30m or 1h, got ${JSON.stringify(value)}` });
    return z.NEVER;
  }
  if (ms > MAX_DURATION_MS) {
    ctx.addIssue({ code: 'custom', message: `at most 24d (${MAX_DURATION_MS} ms, the longest a timer can wait), got ${JSON.stringify(value)}` });
    return z.NEVER;
  }
  return ms;
});

/** `${ENV}` substitution yields text, so ports may be written as digit strings too. */
const digits = (v: unknown) => (typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v);
const port = z.preprocess(digits, z.number().int().min(1, 'expected a port from 1 to 65535').max(65535, 'expected a port from 1 to 65535'));
/** Port 0 lets the OS choose; used by tests and the lab. */
const listenPort = z.preprocess(digits, z.number().int().min(0).max(65535, 'expected a port from 0 to 65535'));
const nonEmpty = z.string().min(1, 'must not be empty');

const hostname = z
  .string()
  .min(1)
  .regex(/^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i, 'expected a DNS host name')
  .transform((h) => h.toLowerCase());

/** An address or network in CIDR notation (`10.0.0.0/8`, `::1/128`, or a bare address). */
const network = z.string().refine((text) => {
  const [addr, bits, extra] = text.split('/');
  if (extra !== undefined || !addr) return false;
  const family = isIP(addr);
  if (!family) return false;
  if (bits === undefined) return true;
  const n = Number(bits);
  return /^\d+$/.test(bits) && n <= (family === 4 ? 32 : 128);
}, 'expected an IP address or a network like 10.0.0.0/8');

const sha256Fingerprint = z
  .string()
  .transform((s) => s.replace(/[:\s]/g, '').toUpperCase())
  .refine((s) => /^[0-9A-F]{64}$/.test(s), 'expected a SHA-256 fingerprint (64 hex digits, colons allowed)');

/** Where a listener binds: an IP address, or a name such as localhost (resolved when listening). */
const listenAddress = z
  .string()
  .refine((a) => (isIP(a) !== 0 && !a.includes('%')) || /^[a-z0-9]([a-z0-9_-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9_-]*[a-z0-9])?)*$/i.test(a), 'expected an IP address (or a host name such as localhost)');

const listenerHttps = z.strictObject({
  /** Address the TLS listener binds (default 0.0.0.0: every IPv4 address). */
  address: listenAddress.default('0.0.0.0'),
  /** Port of the TLS listener (default 443; 0 = the OS chooses). */
  port: listenPort.default(443),
  /** How long an idle client connection stays open; IIS keeps 120 s, and NTLM-authenticated connections must survive. */
  keepAliveTimeout: duration.default(120_000),
  /** A client that has not finished the TLS handshake in this time is disconnected (no ClientHello, half a ClientHello). */
  handshakeTimeout: duration.refine((ms) => ms > 0, 'must be more than 0').default(10_000),
  /**
   * Time allowed for a complete request head, counted from its first byte (or from the handshake for the first request),
   * never reset by later bytes; HTTP and Outlook Anywhere alike. 408 and close when it fires.
   */
  headersTimeout: duration.default(10_000),
  /** The body-rate window: a request body is first judged this long after its head, then every such period. */
  bodyGrace: duration.default(10_000),
  /**
   * Bytes per second each `bodyGrace` window of a request body must bring at least (0 = off); 408 and close if not.
   * Outlook Anywhere channels are exempt: their idle timeout applies.
   */
  bodyMinRate: z.number().int().min(0).default(100),
  /** Per client address (off by default: users share NAT addresses); over a limit, new connections are reset. */
  perAddress: z
    .strictObject({
      /** Open connections from one address at most (0 = no limit). */
      maxConnections: z.number().int().min(0).default(0),
      /** New connections from one address per second at most (0 = no limit). */
      maxNewPerSecond: z.number().int().min(0).default(0),
    })
    .default({ maxConnections: 0, maxNewPerSecond: 0 }),

  /** Largest request head accepted; Kerberos tokens exceed Node's 16 KB default. */
  maxHeaderSize: z.number().int().min(8192).max(1_048_576).default(65_536),
});

const listenerHttp = z.strictObject({
  /** Address the HTTP → HTTPS redirect listener binds (default 0.0.0.0). */
  address: listenAddress.default('0.0.0.0'),
  /** Port of the redirect listener (default 80; 0 = the OS chooses). */
  port: listenPort.default(80),
});

const upstreamTls = z.strictObject({
  /** PEM file with the CA(s) that issued the CAS certificates. */
  ca: nonEmpty.optional(),
  /** Pin the CAS certificate by its SHA-256 fingerprint (Exchange's self-signed back-end certificate in labs). */
  fingerprint256: sha256Fingerprint.optional(),
  /** Name sent as SNI and checked against the CAS certificate (default: the server's host). */
  servername: nonEmpty.optional(),
  /** Turn verification off. Logged as a warning at start; never the default. */
  insecure: z.boolean().default(false),
});

const health = z.strictObject({
  /** Path probed on each backend; Exchange pools default to /<vdir>/healthcheck.htm. */
  path: z.string().regex(/^\//, 'must start with /').optional(),
  /** Share the health state of this other pool instead of probing (for services without healthcheck.htm). */
  from: nonEmpty.optional(),
  /** Time between two probes of a backend that is up (default 5s). */
  interval: duration.default(5_000),
  /** Interval while a backend is down (Envoy's unhealthy_interval, HAProxy's downinter); default: `interval`. */
  unhealthyInterval: duration.optional(),
  /** A probe not answered within this time fails (default 4s). */
  timeout: duration.default(4_000),
  /** Consecutive failures before a backend is marked down (HAProxy `fall`). */
  fall: z.number().int().min(1).default(3),
  /** Consecutive passes before it is marked up again (HAProxy `rise`). */
  rise: z.number().int().min(1).default(2),
  /** Random delay added to each interval so that probes from many pools do not align. */
  jitter: duration.default(500),
  /** Text the body must contain; Exchange's healthcheck.htm answers `200 OK<br/>fqdn`. */
  expectBody: z.string().default('200 OK'),
  /** Probe this pool's backends (default true); false = no active probes, backends count as up unless ejected. */
  enabled: z.boolean().default(true),
});

const outlier = z.strictObject({
  /** Connect failures, resets before headers and timeouts in a row before a backend is ejected. */
  consecutiveFailures: z.number().int().min(1).default(5),
  /** Ejection time is base × number of ejections so far, up to maxEjection. */
  baseEjection: duration.default(30_000),
  /** Longest ejection, however many ejections came before (default 5m). */
  maxEjection: duration.default(300_000),
  /** Never eject more than this share of a pool at once (Envoy's max_ejection_percent). */
  maxEjectionPercent: z.number().min(0).max(100).default(50),
  /** Eject backends on failures seen in real traffic (default true). */
  enabled: z.boolean().default(true),
});

/** A backend address: an IP literal or a DNS name (anything else would only fail when a connection is made). */
const backendHost = nonEmpty.refine(
  // An IPv6 zone (fe80::1%eth0) cannot be written in the backend URL undici needs.
  (h) => (isIP(h) !== 0 && !h.includes('%')) || /^[a-z0-9]([a-z0-9_-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9_-]*[a-z0-9])?)*\.?$/i.test(h),
  'expected an IP address or a DNS host name',
);

const server = z.strictObject({
  /** Server name, unique in the pool; shown in logs, metrics and the admin API. Required. */
  name: nonEmpty.regex(/^[A-Za-z0-9._-]+$/, 'use letters, digits, dot, dash and underscore'),
  /** The CAS's IP address or DNS name. Required. */
  host: backendHost,
  /** Plain HTTP port used when SSL is offloaded. */
  port: port.default(80),
  /** HTTPS port used when SSL is bridged (MRSProxy always). */
  httpsPort: port.default(443),
  /** Share for the `weighted` balancer. */
  weight: z.number().int().min(0).max(1000).default(1),
  /** Concurrent requests allowed to this server per pool; 0 = unlimited. */
  maxConnections: z.number().int().min(0).default(0),
  /** Pin this server's certificate for bridged traffic (each Exchange server has its own self-signed one). */
  fingerprint256: sha256Fingerprint.optional(),
});

export const BALANCERS = ['least-conn', 'round-robin', 'weighted', 'random-two', 'source-ip', 'cookie'] as const;

const pool = z.strictObject({
  /** The backends of this pool (at least one). */
  servers: z.array(server).min(1, 'a pool needs at least one server'),
  /** Balancing policy (default least-conn). */
  balance: z.enum(BALANCERS).default('least-conn'),
  /** offload: HTTP to the CAS (SSL offloading); bridge: HTTPS to the CAS (SSL bridging). Default offload. */
  mode: z.enum(['offload', 'bridge']).default('offload'),
  /** Backend TLS for bridged traffic. */
  tls: upstreamTls.default({ insecure: false }),
  /** Active health probes (on by default). */
  health: health.default(() => health.parse({})),
  /** Passive health: ejection of backends that fail real requests (on by default). */
  outlier: outlier.default(() => outlier.parse({})),
  /** A recovered backend's share grows linearly over this period so that a cold CAS is not flooded. */
  slowStart: duration.default(30_000),
  /** After this long, connections still open on a draining backend are closed. */
  drainTimeout: duration.default(600_000),
  /** Close long-lived connections (RPC, MAPI, ActiveSync, EWS streaming) pinned to a backend that goes down. */
  closeOnDown: z.boolean().default(true),
  /** NTLM/Negotiate-pinned backend connections allowed per backend. */
  maxPinnedConnections: z.number().int().min(1).default(10_000),
  /** Cookie name used by the `cookie` balancer (Exchange 2010 coexistence). */
  cookieName: nonEmpty.default('CASGATE_AFFINITY'),
});

const routeTimeouts = z.strictObject({
  /**
   * Time allowed until the backend's response head arrives (ActiveSync Ping holds it up to an hour); Route's
   * firstByteTimeoutMs, undici's headersTimeout. Default: the Exchange table per service (config/exchange.ts), OWA's
   * 2m for a custom route, rpc's 30m for a route with `rpc`. 0 = no limit.
   */
  firstByte: duration.optional(),
  /** Time allowed between two body chunks, either direction. Defaults as for firstByte. 0 = no limit. */
  idle: duration.optional(),
});

const route = z.strictObject({
  /** Name shown in logs and metrics, unique; default `routes[i]`. */
  name: nonEmpty.optional(),
  /** Host names this route answers (exact, or `*.domain` for one label); any host when absent. */
  host: z.union([hostname, z.array(hostname).min(1)]).optional(),
  /** Path prefix, matched case-insensitively on whole segments. */
  path: z.string().regex(/^\//, 'must start with /').default('/'),
  /** Name of the pool (under `pools`) that serves this route. Required. */
  pool: nonEmpty,
  /** Backend timeouts; default OWA's (2m, 2m), or rpc's (30m) for a route with `rpc`. */
  timeouts: routeTimeouts.default({}),
  /** Clients allowed to use this route (addresses or CIDR networks); everyone when absent. */
  allow: z.array(network).optional(),
  /**
   * Carries Outlook Anywhere (RPC_IN_DATA / RPC_OUT_DATA channels, tunnelled) besides ordinary requests. Default: true
   * when the path is `/rpc` or under it, false otherwise.
   */
  rpc: z.boolean().optional(),
});

const exchangeTimeouts = z.partialRecord(z.enum(EXCHANGE_SERVICES), routeTimeouts);

/** Known-exploit mitigations, each on unless set to false by name (config/exchange-mitigations.ts). */
const mitigations = z.strictObject(Object.fromEntries(MITIGATION_NAMES.map((name) => [name, z.boolean().default(true)]))) as unknown as z.ZodType<
  Record<string, boolean>,
  Record<string, boolean> | undefined
>;

/**
 * Password-spray protection (exchange.authProtection). Defaults follow AD FS extranet smart lockout: casgate locks a
 * user below the AD lockout threshold (Microsoft's baseline: 10), so the account itself is never locked by a spray.
 */
const authProtection = z.strictObject({
  /** Count failed logons and refuse over the limits below (default false). */
  enabled: z.boolean().default(false),
  /** Failures per user from unfamiliar addresses within `window` before casgate refuses that user's logons. */
  userFailures: z.number().int().min(1).default(5),
  /** Failures from one client address (any users) within `window` before the address is refused. */
  addressFailures: z.number().int().min(1).default(20),
  /** Distinct user names failing from one address within `window` before the address is refused. */
  addressUsers: z.number().int().min(1).default(10),
  /** Failures older than this are forgotten (default 10m). */
  window: duration.default(600_000),
  /** How long a user or address stays refused once over a limit. */
  lockout: duration.default(600_000),
  /** How long a successful logon keeps an address familiar for its user (familiar addresses are never refused). */
  familiar: duration.default(14 * 24 * 3_600_000),
  /** `name`: CONTOSO\alice, alice@contoso.lab and alice count as one; `exact`: domain-qualified forms apart. */
  sameUser: z.enum(['name', 'exact']).default('name'),
  /** What a refused attempt gets: 429 with Retry-After, or 401 (also with Retry-After). */
  refuseWith: z.union([z.literal(429), z.literal(401)]).default(429),
  /** Cap of each table (failing users, failing addresses, users with familiar addresses). */
  maxEntries: z.number().int().min(100).max(10_000_000).default(100_000),
});

/** exchange.authProtection with every default (also what casgate runs with when there is no Exchange preset: off). */
export const AUTH_PROTECTION_DEFAULTS = authProtection.parse({});

const exchange = z.strictObject({
  /** Pool whose servers serve every Exchange virtual directory; one pool per protocol is derived from it. */
  pool: nonEmpty,
  /** Published names, checked against the certificates at start. */
  hostnames: z.array(hostname).default([]),
  /** Services published, each with its own route and derived pool (default all ten). */
  services: z.array(z.enum(EXCHANGE_SERVICES)).min(1).default([...EXCHANGE_SERVICES]),
  /** How Exchange traffic reaches the CAS; MRSProxy is always bridged. */
  mode: z.enum(['offload', 'bridge']).default('offload'),
  /** Networks allowed to reach /ecp and /PowerShell. */
  adminNetworks: z.array(network).default([...INTERNAL_NETWORKS]),
  /** Per-service overrides of the Exchange timeouts, e.g. `activesync: { firstByte: 2h }`. */
  timeouts: exchangeTimeouts.default({}),
  /** Answer `/` with a redirect to `/owa/`. */
  redirectRootToOwa: z.boolean().default(true),
  /** Refuse (403) requests shaped like known Exchange exploits; `{ owassrf: false }` turns one rule off. */
  mitigations: mitigations.default(() => Object.fromEntries(MITIGATION_NAMES.map((n) => [n, true]))),
  /** Password-spray limits per user and per client address (off by default). */
  authProtection: authProtection.default(() => authProtection.parse({})),
});

const pfxCertificate = z.strictObject({
  /** PFX (PKCS#12) file, as Export-ExchangeCertificate writes it; relative to the config file. */
  pfx: nonEmpty,
  /** The PFX's password (default empty); pass it as `${PFX_PASSWORD}` to keep it out of the file. */
  password: z.string().default(''),
});
const pemCertificate = z.strictObject({
  /** PEM certificate file; may carry the chain after the leaf. */
  cert: nonEmpty,
  /** PEM private key file of that certificate. */
  key: nonEmpty,
  /** Passphrase of an encrypted key. */
  passphrase: z.string().optional(),
});

const logging = z.strictObject({
  /** Operational log level, on stderr (default info). */
  level: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  /** Access log: `stdout` (default), `off`, or a file path (its folder must exist). */
  access: z.string().default('stdout'),
  /** Default `text`: one readable line per request (IIS-like fields); `w3c` IIS's W3C extended format; `json` for log shippers. */
  format: z.enum(['text', 'json', 'w3c']).default('text'),
});

/** Front-end TLS settings shared by every certificate. */
const frontTls = z.strictObject({
  /** 48-byte session ticket key shared by every casgate behind one address, so clients resume on any of them
   *  (`openssl rand 48 > ticket.key`). Absent: a random key per process. */
  ticketKeyFile: nonEmpty.optional(),
  /** With workers and no ticketKeyFile: how often the primary replaces the ticket key it gives the workers. A
   *  rotation ends every outstanding ticket (Node keeps one key), so each client makes one full handshake. */
  ticketKeyRotation: duration.refine((ms) => ms >= 1000, 'at least 1s (each rotation costs every client a full handshake)').default(12 * 3600_000),
  /**
   * Strict-Transport-Security on the HTTPS answers that do not carry one from the CAS: browsers that saw it never try
   * plain HTTP (or click through a certificate warning) for that name again. Microsoft's HSTS guidance for Exchange
   * (OWA, ECP) uses one year; `maxAge: 0` sends none.
   */
  hsts: z
    .strictObject({
      /** Seconds (the header's own unit); 31536000 = one year. At most two years. */
      maxAge: z.number().int().min(0).max(63_072_000).default(31_536_000),
      /** Also every name under the published ones: only when all of them serve HTTPS. */
      includeSubDomains: z.boolean().default(false),
      /** Asks to be built into browsers (hstspreload.org): needs includeSubDomains and a year or more. */
      preload: z.boolean().default(false),
    })
    .refine((h) => !h.preload || (h.includeSubDomains && h.maxAge >= 31_536_000), 'preload needs includeSubDomains: true and maxAge of at least 31536000')
    .default({ maxAge: 31_536_000, includeSubDomains: false, preload: false }),
});

/** Status page, metrics and admin API listener (also read alone by the command line: load.ts loadAdminSettings). */
export const adminSchema = z
  .strictObject({
    /** Address the admin listener binds (default 127.0.0.1: loopback only). */
    address: listenAddress.default('127.0.0.1'),
    /** Port of the admin listener (default 9090; 0 = the OS chooses). */
    port: listenPort.default(9090),
    /** Bearer token required for every admin call that changes state. */
    token: z.string().min(16, 'use at least 16 characters').optional(),
    /** Where drain, disable and weight changes are kept across restarts (HAProxy's server-state-file); off when absent. */
    stateFile: z.string().min(1).optional(),
  })
  .default(() => ({ address: '127.0.0.1', port: 9090 }));

export const configSchema = z
  .strictObject({
    /** The client-facing listeners. */
    listen: z.strictObject({
      /** The TLS listener clients connect to. */
      https: listenerHttps.default(() => listenerHttps.parse({})),
      /** Plain HTTP listener that redirects to https; omit to disable. */
      http: listenerHttp.optional(),
      /** Proxies in front (a load balancer): their X-Forwarded-For is kept, appended to, and names the client (proxy/forwarded-client.ts); from anyone else it is replaced. */
      trustForwardedFrom: z.array(network).default([]),
    }),
    /** Status page, metrics and admin API listener. */
    admin: adminSchema,
    /** Server certificates (PFX or PEM), at least one; the first is the default, for clients that send no SNI or a name none covers. */
    certificates: z.array(z.union([pfxCertificate, pemCertificate])).min(1, 'at least one certificate is required'),
    /** Backend pools by name (letters, digits, dot, dash, underscore). */
    pools: z.record(z.string().regex(/^[A-Za-z0-9._-]+$/, 'pool names use letters, digits, dot, dash, underscore'), pool),
    /** The Exchange preset: routes and one derived pool per service; absent = no Exchange routes. */
    exchange: exchange.optional(),
    /** Other published services (Lync/Skype simple URLs, anything else); default none. */
    routes: z.array(route).default([]),
    /** Operational and access logging. */
    logging: logging.default(() => logging.parse({})),
    /**
     * Processes that carry traffic: `auto` = one per CPU available (os.availableParallelism()), `1` = a single
     * process that does everything (as before workers existed). Above 1, a primary process keeps the control plane
     * (config, health probes, admin listener) and forks this many workers (src/cluster/).
     */
    workers: z.union([z.literal('auto'), z.preprocess(digits, z.number().int().min(1, 'expected auto or a number of workers from 1 to 256').max(256, 'expected auto or a number of workers from 1 to 256'))]).default('auto'),
    /**
     * Node/V8 flags each worker starts with (when `workers` is above 1; a single process runs with the flags node was
     * started with). Default: room in V8's heap limits for large downloads' Buffers, and a 16 MB young generation
     * from the start (config/worker-flags.ts, measured). `[]` = node's defaults. Checked by starting node with them; applied by `casgate restart`.
     */
    workerFlags: z
      .array(z.string().regex(WORKER_FLAG_SYNTAX, 'expected a node or V8 flag such as --max-semi-space-size=16'))
      .max(32)
      .default(() => [...DEFAULT_WORKER_FLAGS]),
    /** Front-end TLS settings shared by every certificate. */
    tls: frontTls.default(() => frontTls.parse({})),
  })
  .superRefine((config, ctx) => {
    // Two listeners on one port: `run` would fail with EADDRINUSE after `check` said yes. 0 = the OS picks (tests, lab).
    const listeners: Array<{ path: PropertyKey[]; address: string; port: number }> = [{ path: ['listen', 'https', 'port'], ...config.listen.https }];
    if (config.listen.http) listeners.push({ path: ['listen', 'http', 'port'], ...config.listen.http });
    listeners.push({ path: ['admin', 'port'], ...config.admin });
    const anyAddress = (a: string) => a === '0.0.0.0' || a === '::';
    listeners.forEach((l, i) => {
      const clash = listeners.slice(0, i).find((o) => o.port === l.port && l.port !== 0 && (o.address === l.address || anyAddress(o.address) || anyAddress(l.address)));
      if (clash) ctx.addIssue({ code: 'custom', path: l.path, message: `port ${l.port} is already taken by ${clash.path.slice(0, -1).join('.')}` });
    });
    for (const { path, message } of crossReferenceProblems(config)) ctx.addIssue({ code: 'custom', path, message });
  });

export type Config = z.output<typeof configSchema>;
export type PoolConfig = Config['pools'][string];
export type ServerConfig = PoolConfig['servers'][number];
export type RouteConfig = Config['routes'][number];
export type ExchangeConfig = NonNullable<Config['exchange']>;
export type AuthProtectionConfig = ExchangeConfig['authProtection'];
export type HealthConfig = PoolConfig['health'];
export type OutlierConfig = PoolConfig['outlier'];
export type UpstreamTlsConfig = PoolConfig['tls'];
export type CertificateConfig = Config['certificates'][number];
export type BalancerName = (typeof BALANCERS)[number];
