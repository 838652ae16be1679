// Keep-alive connection pools to the CAS servers, one undici Pool per origin (scheme, host, port, TLS settings).
// Exchange's per-protocol pools share a server's connections: /owa and /EWS on cas1 ride the same sockets.
// Timeouts are never left to undici's 300 s defaults: they are disabled here and set per request from the route.
import { createHash } from 'node:crypto';
import type { Socket } from 'node:net';
import { buildConnector, Pool as UndiciPool, Client, type Dispatcher } from 'undici';
import type { ServerConfig, UpstreamTlsConfig } from '../config/schema.js';
import { upstreamConnector } from '../tls/upstream-tls.js';

export type Mode = 'offload' | 'bridge';

export interface Origin {
  /** `http://10.0.0.11:80` or `https://10.0.0.11:443` */
  url: string;
  host: string;
  port: number;
  mode: Mode;
  tls: UpstreamTlsConfig;
  /** Contents of `tls.ca`, read when the config was provisioned: nothing reads a file while connecting. */
  caPem?: string;
}

/** `caPem` is the content of `poolTls.ca` (see runtime/provision.ts). */
export function originOf(server: ServerConfig, mode: Mode, poolTls: UpstreamTlsConfig, caPem?: string): Origin {
  // A server's own pin replaces the pool's CA or pin: it is the more specific statement.
  const pinned = server.fingerprint256 !== undefined;
  const tls = pinned ? { ...poolTls, ca: undefined, fingerprint256: server.fingerprint256 } : poolTls;
  const port = mode === 'bridge' ? server.httpsPort : server.port;
  const host = server.host.includes(':') ? `[${server.host}]` : server.host;
  const origin: Origin = { url: `${mode === 'bridge' ? 'https' : 'http'}://${host}:${port}`, host: server.host, port, mode, tls };
  if (!pinned && caPem !== undefined) origin.caPem = caPem;
  return origin;
}

/** Identity of an origin's connections: address and every TLS setting, the CA by content (a renewed CA file is a new origin). */
export function originKey(origin: Origin): string {
  const { url, tls, caPem } = origin;
  const ca = caPem === undefined ? '' : createHash('sha256').update(caPem).digest('base64');
  return `${url}|${ca}|${tls.fingerprint256 ?? ''}|${tls.servername ?? ''}|${tls.insecure}`;
}

const COMMON = {
  // IIS closes idle connections after 120 s; close ours first so a request never lands on a dying socket.
  keepAliveTimeout: 60_000,
  keepAliveMaxTimeout: 110_000,
  headersTimeout: 0,
  bodyTimeout: 0,
  // Exchange answers Kerberos-sized heads too.
  maxHeaderSize: 65_536,
  pipelining: 1,
  connectTimeout: 5_000,
} as const;

function connectorFor(origin: Origin): buildConnector.connector {
  return origin.mode === 'bridge' ? upstreamConnector(origin.tls, origin.host, origin.caPem) : buildConnector({ timeout: COMMON.connectTimeout });
}

function connectOptions(origin: Origin) {
  return { connect: connectorFor(origin) };
}

/**
 * A raw socket to the origin (plain TCP, or TLS verified like the pools' connections), for traffic that is not
 * HTTP as undici knows it: Outlook Anywhere channels.
 */
export function connectRaw(origin: Origin): Promise<Socket> {
  const connect = connectorFor(origin);
  return new Promise((resolve, reject) => {
    connect(
      { hostname: origin.host, host: origin.host, protocol: origin.mode === 'bridge' ? 'https:' : 'http:', port: String(origin.port), servername: undefined },
      (err, socket) => (err || !socket ? reject(err ?? new Error('connect failed')) : resolve(socket as Socket)),
    );
  });
}

export class UpstreamConnections {
  private readonly pools = new Map<string, UndiciPool>();

  /** The shared keep-alive pool for an origin, created on first use. */
  shared(origin: Origin): Dispatcher {
    const key = originKey(origin);
    let pool = this.pools.get(key);
    if (!pool) {
      pool = new UndiciPool(origin.url, { ...COMMON, ...connectOptions(origin) });
      this.pools.set(key, pool);
    }
    return pool;
  }

  /**
   * A single connection of its own, for one client connection that authenticated with NTLM/Negotiate:
   * never shared with another client, closed when that client's connection closes.
   */
  dedicated(origin: Origin): Client {
    return new Client(origin.url, { ...COMMON, ...connectOptions(origin) });
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.destroy().catch(() => undefined)));
    this.pools.clear();
  }
}
