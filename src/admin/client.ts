// The command line's side of the admin API: `casgate restart`, `backend` and `status` find the running instance's
// admin listener and token in the same config file it runs from, so a maintenance script needs no curl line, port or
// token of its own.
import type { Config } from '../config/schema.js';
import { formatAge, type GatewayStatus } from './status-view.js';

export interface AdminAnswer {
  status: number;
  /** The body as text (JSON for every /api/ path). */
  text: string;
}

/** Calls `path` on the admin listener `admin` describes (a wildcard address is reached on loopback), with its token. */
export async function callAdmin(admin: Config['admin'], method: 'GET' | 'POST', path: string): Promise<AdminAnswer> {
  const { address, port, token } = admin;
  const host = address === '0.0.0.0' ? '127.0.0.1' : address === '::' ? '::1' : address;
  const { request } = await import('undici');
  const res = await request(`http://${host.includes(':') ? `[${host}]` : host}:${port}${path}`, {
    method,
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  return { status: res.statusCode, text: await res.body.text() };
}

/** /api/status as text for a terminal: a line per pool, then a row per backend, columns aligned. */
export function renderStatusText(status: GatewayStatus, now = Date.now()): string {
  const rows: string[][] = [['pool', 'server', 'state', 'since', 'active', 'pinned', 'long-lived', 'reason']];
  for (const pool of status.pools) {
    for (const b of pool.backends) {
      rows.push([pool.name, b.name, b.state, formatAge((now - Date.parse(b.since)) / 1000), String(b.activeRequests), String(b.pinnedConnections), String(b.longLived), b.reason]);
    }
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const table = rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n');
  const head = `casgate ${status.version}, up ${formatAge(status.uptimeSeconds)}; ${status.pinnedConnections} NTLM-pinned connections, ${status.rpcTunnels} Outlook Anywhere channels`;
  const pools = status.pools.map((p) => `${p.name}: ${p.available}/${p.backends.length} available`).join(', ');
  return `${head}\n${pools}\n\n${table}\n`;
}
