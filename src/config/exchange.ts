// The Exchange virtual directories casgate publishes, and what each needs from a proxy.
// Sources: ../shared/EXCHANGE.md (Microsoft load-balancing guidance, protocol specs) and seed 000 (SSL offloading).

export const EXCHANGE_SERVICES = [
  'owa', 'ecp', 'ews', 'mapi', 'rpc', 'activesync', 'oab', 'autodiscover', 'powershell', 'mrsproxy',
] as const;
export type ExchangeService = (typeof EXCHANGE_SERVICES)[number];

export interface ExchangeServiceSpec {
  /** Path prefix as Exchange spells it; matching is case-insensitive, like IIS. */
  path: string;
  /** Path probed by the active health check; undefined where Exchange has no healthcheck.htm. */
  healthPath?: string;
  /** For services without their own healthcheck.htm: whose health state they share. */
  healthFrom?: ExchangeService;
  /** Time allowed until the first response byte, and between body bytes (ms); 0 = none. */
  firstByteTimeoutMs: number;
  idleTimeoutMs: number;
  /** Seed 000: MRSProxy does not support SSL offloading; it must be re-encrypted to the CAS. */
  bridgeOnly?: boolean;
  /** Admin surfaces that published proxies restrict to internal networks. */
  internalOnly?: boolean;
}

const MIN = 60_000;

/**
 * Timeouts follow Microsoft's and the load-balancer vendors' guidance (EXCHANGE.md, "The protocols and their timing"):
 * ActiveSync Ping holds the response up to 3540 s before headers; EWS streaming up to 30 min; MAPI NotificationWait
 * up to 5 min with PENDING chunks; RPC channels live for hours (idle only, no total limit).
 */
export const EXCHANGE_SERVICE_SPECS: Record<ExchangeService, ExchangeServiceSpec> = {
  owa: { path: '/owa', healthPath: '/owa/healthcheck.htm', firstByteTimeoutMs: 2 * MIN, idleTimeoutMs: 2 * MIN },
  ecp: { path: '/ecp', healthPath: '/ecp/healthcheck.htm', firstByteTimeoutMs: 2 * MIN, idleTimeoutMs: 2 * MIN, internalOnly: true },
  ews: { path: '/EWS', healthPath: '/EWS/healthcheck.htm', firstByteTimeoutMs: 31 * MIN, idleTimeoutMs: 31 * MIN },
  mapi: { path: '/mapi', healthPath: '/mapi/healthcheck.htm', firstByteTimeoutMs: 15 * MIN, idleTimeoutMs: 15 * MIN },
  rpc: { path: '/rpc', healthPath: '/rpc/healthcheck.htm', firstByteTimeoutMs: 30 * MIN, idleTimeoutMs: 30 * MIN },
  activesync: {
    path: '/Microsoft-Server-ActiveSync',
    healthPath: '/Microsoft-Server-ActiveSync/healthcheck.htm',
    firstByteTimeoutMs: 60 * MIN,
    idleTimeoutMs: 60 * MIN,
  },
  oab: { path: '/OAB', healthPath: '/OAB/healthcheck.htm', firstByteTimeoutMs: 5 * MIN, idleTimeoutMs: 5 * MIN },
  autodiscover: {
    path: '/Autodiscover',
    healthPath: '/Autodiscover/healthcheck.htm',
    firstByteTimeoutMs: 2 * MIN,
    idleTimeoutMs: 2 * MIN,
  },
  // PowerShell has no healthcheck.htm: it runs in the same IIS site as EWS, so it shares EWS's state.
  powershell: { path: '/PowerShell', healthFrom: 'ews', firstByteTimeoutMs: 30 * MIN, idleTimeoutMs: 30 * MIN, internalOnly: true },
  // MRSProxy is an EWS endpoint: it is probed through EWS's healthcheck.htm, over HTTPS because it is bridged.
  mrsproxy: {
    path: '/EWS/mrsproxy.svc',
    healthPath: '/EWS/healthcheck.htm',
    firstByteTimeoutMs: 31 * MIN,
    idleTimeoutMs: 31 * MIN,
    bridgeOnly: true,
  },
};

/** Default networks allowed to reach internal-only services: loopback and the RFC 1918 / RFC 4193 private ranges. */
export const INTERNAL_NETWORKS = ['127.0.0.0/8', '::1/128', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'];
