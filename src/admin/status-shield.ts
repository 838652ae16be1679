// The status page's and /api/status's view of casgate's own shield: known-exploit mitigations (and later, spray
// lockouts). Kept apart from status.ts so that the page's main layout can change without touching it.
import type { Mitigations } from '../proxy/mitigations.js';

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
