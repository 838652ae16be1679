// The section `npm run bench:pings` writes: into its output directory, and into bench/RESULTS.md below the line that
// `bench peers` keeps (replacing its own previous section, leaving the others alone).
import { KEPT_MARKER } from '../peers/results.js';

export interface PingsRun {
  date: string;
  command: string;
  node: string;
  cpus: number;
  pings: number;
  /** casgate processes (each with its own port and share of the Pings) and mock CAS servers. */
  processes: number;
  mocks: number;
  holders: number;
  holdS: number;
  limits: { casgate: number; mock: number };
  notes: string[];
  sent: number;
  failedOpening: number;
  rampS: number;
  rampCpuS: number;
  heldAtStart: number;
  heldAtEnd: number;
  /** Pings the mock CAS held when the hold began. */
  mockHeld: number;
  cutDuringHold: number;
  answeredEarly: number;
  answered: number;
  answerS: number;
  failedAtAnswer: number;
  closedCleanly: number;
  failures: Record<string, number>;
  rssBefore: number;
  rssHeld: number;
  rssPeak: number;
  rssAfter: number;
  mockRssHeld: number;
  fdsBefore: number;
  fdsHeld: number;
  fdsAfter: number;
  idleCpuS: number;
  mockHeldAfter: number;
  /** `--reference`: the same Pings held afterwards through bench/pings/reference-proxy.ts (node:https + undici). */
  reference?: { held: number; failed: number; rssBefore: number; rssHeld: number };
}

const n = (x: number): string => Math.round(x).toLocaleString('en-US');
const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
const kb = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KB`;

export function sectionTitle(pings: number): string {
  return `## ${n(pings)} idle ActiveSync Pings`;
}

export function renderPings(r: PingsRun): string {
  const L: string[] = [sectionTitle(r.pings), ''];
  const perPing = r.heldAtStart > 0 ? (r.rssHeld - r.rssBefore) / r.heldAtStart : NaN;
  const ok = r.heldAtEnd === r.pings && r.answered === r.pings && r.cutDuringHold === 0;
  L.push(
    `Written by \`npm run bench:pings\` (bench/pings) on ${r.date}: \`${r.command}\`. ` +
      `${r.mocks === 1 ? 'A mock CAS' : `${r.mocks} mock CAS servers`} and ${r.processes === 1 ? 'casgate' : `${r.processes} casgate processes`} ` +
      `(\`casgate run\`, the Exchange preset, access log to a file) as child processes, descriptor limit ${n(r.limits.casgate)} per process; ` +
      `${r.holders} holder processes open one TLS connection per Ping (bench/peers/idle-pings.ts). Node ${r.node}, ${r.cpus} shared ` +
      'cores, nothing pinned. casgate figures are summed over its processes.',
    '',
  );
  L.push('| what | figure |', '|---|--:|');
  L.push(`| Pings sent / held at the start of the hold / held at its end | ${n(r.sent)} / ${n(r.heldAtStart)} / ${n(r.heldAtEnd)} |`);
  L.push(`| failed while opening / cut during the hold / answered early | ${n(r.failedOpening)} / ${n(r.cutDuringHold)} / ${n(r.answeredEarly)} |`);
  L.push(`| held by the mock CAS (its own count) | ${n(r.mockHeld)} |`);
  L.push(`| time to open them all (casgate CPU meanwhile) | ${r.rampS.toFixed(0)} s (${r.rampCpuS.toFixed(0)} CPU s, ${n(r.sent / Math.max(r.rampCpuS, 0.001))} Pings per CPU s) |`);
  L.push(`| held for | ${r.holdS} s |`);
  L.push(`| casgate RSS before / holding / peak / after | ${mib(r.rssBefore)} / ${mib(r.rssHeld)} / ${mib(r.rssPeak)} / ${mib(r.rssAfter)} |`);
  L.push(`| casgate RSS per held Ping (client TLS + CAS connection + request) | ${kb(perPing)} |`);
  if (r.reference) {
    const ref = r.reference;
    const refPerPing = ref.held > 0 ? (ref.rssHeld - ref.rssBefore) / ref.held : NaN;
    L.push(
      `| the same, through the smallest Node proxy (node:https + undici, bench/pings/reference-proxy.ts; ${n(ref.held)} held, ${n(ref.failed)} failed) | ` +
        `${kb(refPerPing)} (casgate: ${(perPing / refPerPing).toFixed(2)} × it) |`,
    );
  }
  L.push(
    `| casgate descriptors before / holding / 2 s after the clients left (CAS keep-alive connections stay pooled up to 60 s) | ` +
      `${n(r.fdsBefore)} / ${n(r.fdsHeld)} / ${n(r.fdsAfter)} |`,
  );
  L.push(`| casgate CPU while holding (all processes) | ${((100 * r.idleCpuS) / Math.max(r.holdS, 1)).toFixed(1)} % of a core |`);
  L.push(`| mock CAS RSS growth holding them | ${mib(r.mockRssHeld)} |`);
  L.push(`| answered with 200 when the heartbeat ended (in) | ${n(r.answered)} (${r.answerS.toFixed(1)} s); ${n(r.failedAtAnswer)} failed |`);
  L.push(`| connections then closed cleanly by the clients / Pings still held by the mock after | ${n(r.closedCleanly)} / ${n(r.mockHeldAfter)} |`);
  L.push('');
  const failures = Object.entries(r.failures);
  if (failures.length > 0) L.push(`Failures by kind: ${failures.map(([k, v]) => `${k}: ${n(v)}`).join(', ')}.`, '');
  for (const note of r.notes) L.push(`Note: ${note}.`, '');
  L.push(
    ok
      ? `All ${n(r.pings)} Pings were held for the whole time, none cut, and all answered when the heartbeat ended.`
      : `Not every Ping made it: see the failures above.`,
    '',
  );
  return `${L.join('\n')}`;
}

/** Puts `section` below the kept-sections marker: in place of an earlier section about idle Pings, else at the end. */
export function replaceSection(previous: string, section: string): string {
  let text = previous.includes(KEPT_MARKER) ? previous : `${previous}${previous && !previous.endsWith('\n') ? '\n' : ''}\n${KEPT_MARKER}\n`;
  const markerEnd = text.indexOf(KEPT_MARKER) + KEPT_MARKER.length;
  const head = text.slice(0, markerEnd);
  const tail = text.slice(markerEnd);
  const re = /^## [\d,]+ idle ActiveSync Pings$/m;
  const m = re.exec(tail);
  if (!m) {
    text = `${head}${tail.replace(/\n*$/, '\n')}\n${section}`;
    return text.endsWith('\n') ? text : `${text}\n`;
  }
  const start = m.index;
  const nextHeading = tail.slice(start + m[0].length).search(/^## /m);
  const end = nextHeading < 0 ? tail.length : start + m[0].length + nextHeading;
  const rest = tail.slice(end);
  return `${head}${tail.slice(0, start)}${section.replace(/\n*$/, '\n')}${rest ? `\n${rest}` : ''}`;
}
