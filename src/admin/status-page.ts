// The status page: one table per pool, a row per backend, state and reason in words. Refreshes itself every 2 s.
import type { GatewayStatus } from './status-view.js';

const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const COLORS: Record<string, string> = { healthy: '#2e7d32', unhealthy: '#c62828', draining: '#ef6c00', disabled: '#616161' };

/** Servers × pools at a glance: Exchange's per-protocol pools share servers, and an admin asks "is cas1 up for EWS?". */
function renderMatrix(status: GatewayStatus): string {
  const servers = [...new Set(status.pools.flatMap((p) => p.backends.map((b) => b.name)))];
  const header = status.pools.map((p) => `<th>${escape(p.name)}</th>`).join('');
  const rows = servers.map((server) => {
    const cells = status.pools.map((p) => {
      const b = p.backends.find((x) => x.name === server);
      if (!b) return '<td></td>';
      return `<td title="${escape(b.reason)}" style="color:${COLORS[b.state] ?? '#000'};font-weight:bold">${escape(b.state)}</td>`;
    });
    return `<tr><td>${escape(server)}</td>${cells.join('')}</tr>`;
  });
  return `<table><tr><th>server</th>${header}</tr>\n${rows.join('\n')}</table>`;
}

export function renderStatusPage(status: GatewayStatus): string {
  const pools = status.pools
    .map(
      (p) => `<h2>${escape(p.name)} <small>${p.available}/${p.backends.length} available · ${escape(p.mode)} · ${escape(p.balance)}${
        p.healthPath ? ` · probe ${escape(p.healthPath)}` : p.healthFrom ? ` · health from ${escape(p.healthFrom)}` : ''
      }</small></h2>
<table><tr><th>server</th><th>address</th><th>state</th><th>reason</th><th>weight</th><th>active</th><th>pinned</th><th>long-lived</th></tr>
${p.backends
  .map(
    (b) => `<tr><td>${escape(b.name)}</td><td>${escape(b.address)}</td><td style="color:${COLORS[b.state] ?? '#000'};font-weight:bold">${escape(b.state)}</td><td>${escape(b.reason)}</td><td>${b.weight}${b.slowStart ? ` (slow start: ${b.effectiveWeight})` : ''}</td><td>${b.activeRequests}</td><td>${b.pinnedConnections}</td><td>${b.longLived}</td></tr>`,
  )
  .join('\n')}
</table>`,
    )
    .join('\n');
  const certs = status.certificates
    .map((c) => `<li>${escape(c.source)}: ${escape(c.names.join(', '))} (expires ${escape(c.notAfter.slice(0, 10))})</li>`)
    .join('');
  return `<!doctype html><html><head><meta charset="utf-8"><title>casgate status</title><meta http-equiv="refresh" content="2">
<style>body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}h2 small{font-weight:normal;color:#555}</style>
</head><body><h1>casgate</h1><p>${status.pinnedConnections} NTLM-pinned connections · ${status.rpcTunnels} Outlook Anywhere channels · <a href="/metrics">metrics</a> · <a href="/api/status">JSON</a></p>
<h2>At a glance</h2>${renderMatrix(status)}
${pools}<h2>Certificates</h2><ul>${certs}</ul></body></html>`;
}
