// The status page: one table per pool, a row per backend, state and reason in words, since when, the pool's last
// minute; drain/enable/disable buttons that ask for the admin token once (kept in the tab's sessionStorage) and call
// the admin API. One self-contained page (no CDN, no external file): it must work on a server without internet.
// Refreshes itself every 2 s in place (no navigation: the scroll position stays, and a casgate that does not answer,
// restarting or down, leaves the last state on screen under a banner saying since when, instead of a browser error
// page that would never refresh again); not while the admin is typing the token.
import { formatAge, type GatewayStatus } from './status-view.js';
import { EXPIRY_WARNING_DAYS } from '../tls/coverage.js';
import { renderAuthProtection, renderMitigations } from './shield.js';

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

function lastMinute(p: GatewayStatus['pools'][number]): string {
  if (!p.lastMinute) return '';
  const { requests, errors, errorRate } = p.lastMinute;
  const rate = requests ? ` (${(errorRate * 100).toFixed(errorRate < 0.1 ? 1 : 0)} %)` : '';
  return ` · last minute: <span class="requests">${requests} requests</span>, <span class="errors"${errors ? ' style="color:#c62828;font-weight:bold"' : ''}>${errors} 5xx${rate}</span>`;
}

function buttons(pool: string, b: { name: string; state: string }): string {
  const data = `data-pool="${escape(pool)}" data-server="${escape(b.name)}"`;
  return b.state === 'draining' || b.state === 'disabled'
    ? `<button data-action="enable" ${data}>enable</button>`
    : `<button data-action="drain" ${data}>drain</button> <button data-action="disable" ${data}>disable</button>`;
}

// Inline, so the page stays one file. Event delegation: one listener, whatever the tables hold.
const SCRIPT = `
let busy = false;
let failedSince = 0;
async function refresh() {
  if (busy) return;
  try {
    const res = await fetch(location.pathname, { cache: 'no-store' });
    if (!res.ok) throw new Error('HTTP ' + res.status);
    const next = new DOMParser().parseFromString(await res.text(), 'text/html');
    if (busy) return;
    next.querySelectorAll('script').forEach((script) => script.remove());
    document.body.replaceChildren(...next.body.childNodes);
    failedSince = 0;
  } catch (err) {
    failedSince = failedSince || Date.now();
    let stale = document.getElementById('stale');
    if (!stale) {
      stale = document.createElement('p');
      stale.id = 'stale';
      stale.style.cssText = 'background:#c62828;color:#fff;padding:6px 10px;font-weight:bold';
      document.body.prepend(stale);
    }
    stale.textContent = 'casgate has not answered since ' + new Date(failedSince).toLocaleTimeString() + ' (' + err.message + '): what follows is what it said last.';
  }
}
setInterval(refresh, 2000);
document.addEventListener('click', async (event) => {
  const button = event.target.closest('button[data-action]');
  if (!button) return;
  busy = true;
  try {
    let token = sessionStorage.getItem('casgate-admin-token');
    if (!token) token = prompt('Admin token (admin.token in the casgate config) to ' + button.dataset.action + ' ' + button.dataset.server + ' in ' + button.dataset.pool);
    if (!token) return;
    const url = '/api/backends/' + encodeURIComponent(button.dataset.server) + '/' + button.dataset.action + '?pool=' + encodeURIComponent(button.dataset.pool);
    const res = await fetch(url, { method: 'POST', headers: { authorization: 'Bearer ' + token } });
    if (res.status === 401) {
      sessionStorage.removeItem('casgate-admin-token');
      alert('The admin token was refused.');
    } else {
      sessionStorage.setItem('casgate-admin-token', token);
      if (!res.ok) alert((await res.json()).error);
    }
  } finally {
    busy = false;
    void refresh();
  }
});`;

export function renderStatusPage(status: GatewayStatus, now = Date.now()): string {
  const pools = status.pools
    .map(
      (p) => `<h2>${escape(p.name)} <small>${p.available}/${p.backends.length} available · ${escape(p.mode)} · ${escape(p.balance)}${
        p.healthPath ? ` · probe ${escape(p.healthPath)}` : p.healthFrom ? ` · health from ${escape(p.healthFrom)}` : ''
      }${lastMinute(p)}</small></h2>
<table data-pool="${escape(p.name)}"><tr><th>server</th><th>address</th><th>state</th><th>since</th><th>reason</th><th>weight</th><th>active</th><th>pinned</th><th>long-lived</th><th></th></tr>
${p.backends
  .map(
    (b) => `<tr data-server="${escape(b.name)}"><td>${escape(b.name)}</td><td>${escape(b.address)}</td><td class="state" style="color:${COLORS[b.state] ?? '#000'};font-weight:bold">${escape(b.state)}</td><td title="${escape(b.since)}">${formatAge((now - Date.parse(b.since)) / 1000)}</td><td>${escape(b.reason)}</td><td>${b.weight}${b.slowStart ? ` (slow start: ${b.effectiveWeight})` : ''}</td><td>${b.activeRequests}</td><td>${b.pinnedConnections}</td><td>${b.longLived}</td><td>${buttons(p.name, b)}</td></tr>`,
  )
  .join('\n')}
</table>`,
    )
    .join('\n');
  const certs = status.certificates
    .map((c) => {
      const soon = c.daysLeft < EXPIRY_WARNING_DAYS;
      const left = c.daysLeft < 0 ? `EXPIRED ${-c.daysLeft} days ago` : `${c.daysLeft} days left`;
      return `<li>${escape(c.source)}: ${escape(c.names.join(', '))} (expires ${escape(c.notAfter.slice(0, 10))}, <span class="days"${soon ? ' style="color:#b00;font-weight:bold"' : ''}>${left}</span>)</li>`;
    })
    .join('');
  return `<!doctype html><html><head><meta charset="utf-8"><title>casgate status</title>
<style>body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}h2 small{font-weight:normal;color:#555}button{font:inherit;padding:1px 8px}</style>
</head><body><h1>casgate <small style="font-weight:normal;color:#555">${escape(status.version)} · node ${escape(status.node)} · up <span id="uptime">${formatAge(status.uptimeSeconds)}</span></small></h1>
<p>${status.pinnedConnections} NTLM-pinned connections · ${status.rpcTunnels} Outlook Anywhere channels · <a href="/metrics">metrics</a> · <a href="/api/status">JSON</a></p>
<h2>At a glance</h2>${renderMatrix(status)}
${pools}<h2>Certificates</h2><ul>${certs}</ul>
${renderMitigations(status.mitigations)}
${renderAuthProtection(status.authProtection)}<script>${SCRIPT}</script></body></html>`;
}
