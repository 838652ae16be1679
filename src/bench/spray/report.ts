// The spray benchmark's table, off against on, as markdown; and its section in bench/RESULTS.md (replaced in place).
export interface SprayRound {
  protection: 'off' | 'on';
  attempts: number;
  /** Attempts answered by the CAS (a 401 or OWA reason=2 from the CAS itself). */
  reachedCas: number;
  refusedByCasgate: number;
  /** Guesses that reached the CAS, per sprayed name: the most any one name got, and the mean. */
  maxPerUser: number;
  meanPerUser: number;
  /** Sprayed names with at least `threshold` guesses at the CAS (AD would have locked the real ones). */
  usersOverThreshold: number;
  /** Real accounts the mock directory locked (its threshold), and their names. */
  accountsLocked: string[];
  legitRequests: number;
  legitErrors: number;
  casgateCpuMs: number;
  /** casgate CPU per attempt over the spray; per refused attempt measured on an all-refused burst (on only). */
  cpuUsPerAttempt: number;
  cpuUsPerRefused?: number;
  durationS: number;
}

export interface SprayRun {
  date: string;
  settings: { users: number; realUsers: number; passwords: number; addresses: number; concurrency: number; threshold: number; owaShare: number; limits: string };
  /** Load average (1 min) when the run started: CPU figures on a busy machine are upper bounds. */
  loadAverage?: number;
  cpus?: number;
  rounds: SprayRound[];
}

const n = (x: number): string => Math.round(x).toLocaleString('en-US');

export function renderSpray(run: SprayRun): string {
  const [off, on] = [run.rounds.find((r) => r.protection === 'off'), run.rounds.find((r) => r.protection === 'on')];
  const row = (label: string, f: (r: SprayRound) => string) => `| ${label} | ${off ? f(off) : '–'} | ${on ? f(on) : '–'} |`;
  const s = run.settings;
  return `## Password spray

\`casgate bench spray\` (${run.date}): ${n(s.users)} user names (${s.realUsers} of them real accounts of the mock's directory,
alice among them) × ${s.passwords} passwords, from ${n(s.addresses)} source addresses (127.1.x.y, each its own
client), ${s.concurrency} in flight, ${Math.round(s.owaShare * 100)} % as OWA form logons and the rest as Basic on EWS; meanwhile
alice, on her own address (127.0.0.77, where she logged on first), makes one EWS request every 50 ms.
One mock CAS (its directory locks an account after ${s.threshold} bad passwords, like AD) and casgate as child processes;
protection on = \`exchange.authProtection: { enabled: true }\` (${s.limits}).

| | protection off | protection on |
|---|--:|--:|
${row('spray attempts', (r) => n(r.attempts))}
${row('guesses that reached the CAS', (r) => n(r.reachedCas))}
${row('refused by casgate (429)', (r) => n(r.refusedByCasgate))}
${row('guesses at the CAS per user name: most / mean', (r) => `${n(r.maxPerUser)} / ${r.meanPerUser.toFixed(1)}`)}
${row(`user names with ≥ ${s.threshold} guesses at the CAS (AD threshold ${s.threshold})`, (r) => n(r.usersOverThreshold))}
${row('real accounts locked in the directory', (r) => `${r.accountsLocked.length}${r.accountsLocked.length ? ` (${r.accountsLocked.join(', ')})` : ''}`)}
${row('legitimate user: requests / failed', (r) => `${n(r.legitRequests)} / ${n(r.legitErrors)}`)}
${row('casgate CPU per spray attempt', (r) => `${r.cpuUsPerAttempt.toFixed(0)} µs`)}
${row('casgate CPU per refused attempt (all-refused burst)', (r) => (r.cpuUsPerRefused === undefined ? '–' : `${r.cpuUsPerRefused.toFixed(0)} µs`))}
${row('duration', (r) => `${r.durationS.toFixed(1)} s`)}

With protection on, no name gets more guesses at the CAS than \`userFailures\` (5), so none reaches AD's threshold;
refused attempts never reach the CAS. AD (and the mock) resets an account's bad-password count when its user logs
on: alice's own requests keep her account unlocked even with protection off, while the four other real accounts
lock. CPU is casgate's utime + stime from /proc${run.loadAverage !== undefined ? `, taken with a load average of ${run.loadAverage.toFixed(1)} on ${run.cpus ?? '?'} CPUs (other work shared the machine: read the figures as upper bounds)` : ''}.
`;
}

/** Replaces the `## Password spray` section of RESULTS.md (up to the next `## `), or appends it. */
export function replaceSpraySection(previous: string, section: string): string {
  const m = /^## Password spray$/m.exec(previous);
  if (!m) return `${previous.replace(/\n*$/, '\n')}\n${section.replace(/\n*$/, '\n')}`;
  const after = previous.slice(m.index + m[0].length);
  const next = after.search(/^## /m);
  const rest = next < 0 ? '' : after.slice(next);
  return `${previous.slice(0, m.index)}${section.replace(/\n*$/, '\n')}${rest ? `\n${rest}` : ''}`;
}
