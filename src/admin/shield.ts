// The admin's view of casgate's own shield: known-exploit mitigations and password-spray lockouts, for the status
// page, /api/status, and the spray API:
//   GET  /api/auth-protection                          settings, locked users and addresses (since, until, counts),
//                                                      table sizes, totals
//   POST /api/auth-protection/clear?user=NAME          forget a user's failures and lock (token required)
//   POST /api/auth-protection/clear?address=IP         the same for a client address
// Kept apart from status.ts so that the page's main layout can change without touching it.
import type { AuthProtection } from '../proxy/auth-protection/protection.js';
import type { Mitigations } from '../proxy/mitigations.js';
import { AdminError, type AdminServer } from './server.js';

export interface MitigationView {
  name: string;
  cves: string[];
  enabled: boolean;
  refusals: number;
  summary: string;
}

export function mitigationViews(mitigations: Mitigations | undefined): MitigationView[] {
  return (mitigations?.rules ?? []).map(({ rule, enabled, refusals }) => ({
    name: rule.name,
    cves: [...rule.cves],
    enabled,
    refusals,
    summary: rule.summary,
  }));
}

const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function renderMitigations(views: readonly MitigationView[]): string {
  if (views.length === 0) return '';
  const rows = views
    .map(
      (v) =>
        `<tr><td>${escape(v.name)}</td><td>${escape(v.cves.join(', '))}</td><td>${v.enabled ? 'on' : '<b>off</b>'}</td><td>${v.refusals}</td><td>${escape(v.summary)}</td></tr>`,
    )
    .join('\n');
  return `<h2>Known-exploit mitigations</h2>
<table><tr><th>rule</th><th>CVE</th><th>state</th><th>refused</th><th>what it stops</th></tr>
${rows}
</table>`;
}

export interface AuthProtectionView {
  enabled: boolean;
  settings?: AuthProtection['store']['settings'];
  locked?: ReturnType<AuthProtection['store']['locks']>;
  entries?: AuthProtection['store']['sizes'];
  totals?: AuthProtection['store']['totals'];
}

export function authProtectionView(protection: AuthProtection | undefined): AuthProtectionView {
  if (!protection) return { enabled: false };
  protection.store.sweep();
  return {
    enabled: protection.enabled,
    settings: protection.store.settings,
    locked: protection.store.locks(),
    entries: protection.store.sizes,
    totals: { ...protection.store.totals },
  };
}

export function renderAuthProtection(view: AuthProtectionView): string {
  if (!view.enabled || !view.locked || !view.totals || !view.entries) return '<h2>Password-spray protection</h2><p>off (exchange.authProtection.enabled)</p>';
  const rows = (kind: string, list: ReadonlyArray<{ key: string; since: string; until: string; failures: number; distinctUsers?: number }>) =>
    list
      .map((l) => `<tr><td>${kind}</td><td>${escape(l.key)}</td><td>${escape(l.since)}</td><td>${escape(l.until)}</td><td>${l.failures}</td><td>${l.distinctUsers ?? ''}</td></tr>`)
      .join('\n');
  const t = view.totals;
  return `<h2>Password-spray protection</h2>
<p>${t.attempts} attempts · ${t.failures} failures · ${t.refusedUser} refused (user) · ${t.refusedAddress} refused (address) · ${t.lockouts} lockouts · tracking ${view.entries.users} users, ${view.entries.addresses} addresses</p>
<table><tr><th>locked</th><th>name</th><th>since</th><th>until</th><th>failures</th><th>distinct users</th></tr>
${rows('user', view.locked.users)}
${rows('address', view.locked.addresses)}
</table>`;
}

export function registerShieldApi(admin: AdminServer, protection: AuthProtection): void {
  admin.on('GET', '/api/auth-protection', () => ({ json: authProtectionView(protection) }));
  admin.on('POST', '/api/auth-protection/clear', (req) => {
    const body = (req.body ?? {}) as { user?: unknown; address?: unknown };
    const user = req.query.get('user') ?? (typeof body.user === 'string' ? body.user : null);
    const address = req.query.get('address') ?? (typeof body.address === 'string' ? body.address : null);
    if ((user === null) === (address === null)) throw new AdminError(400, 'name exactly one of ?user= or ?address=');
    const cleared = user !== null ? protection.store.clear('user', protection.key(user)) : protection.store.clear('address', address!);
    return { json: { cleared, ...(user !== null ? { user: protection.key(user) } : { address }) } };
  });
}
