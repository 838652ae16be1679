// `casgate bench failover`: what users notice when a CAS fails or is patched. Starts N mock CAS processes and the
// gateway (lab.ts), runs the Exchange mix with ActiveSync Pings and RPC tunnels that reconnect when lost (clients.ts),
// carries out a schedule of outages and recoveries (schedule.ts), and writes, next to each other, a JSON result, a
// Markdown summary (report.ts) and a timeline chart (svg.ts), all computed from one event log (timeline.ts).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parseDuration } from '../../config/duration.js';
import { loadMixFile, MixSchema, type MixSpec } from '../load/mix.js';
import { PingClients, RequestLoad, RunLog, TunnelClients } from './clients.js';
import { FailoverLab, HOSTNAME } from './lab.js';
import { toMarkdown, type FailoverResult } from './report.js';
import { defaultSchedule, loadScheduleFile, validateSchedule, type Schedule } from './schedule.js';
import { renderTimelineSvg, type ErrorMark } from './svg.js';
import { bucketize, isLost, summarizeEvents, summarizeWindow, type FailoverEvent } from './timeline.js';

const USAGE = `Usage: casgate bench failover [options]

Starts N mock CAS processes and casgate (in this process), runs the Exchange mix with ActiveSync Pings and RPC tunnels
that reconnect when lost, and on a schedule kills a CAS (SIGKILL) and restarts it, puts one in maintenance
(ServerWideOffline) and back, drains one through the admin API and enables it. Writes result.json, summary.md and
timeline.svg to the output directory and prints the summary.

  --servers N          mock CAS processes (default 3; at least 2)
  --phase D            time between events in the default schedule (default 8s): kill cas1, restart cas1,
                       maintenance on cas2, off, drain cas3, enable cas3, one event per phase after one phase of load
  --schedule FILE      YAML or JSON schedule instead: { duration: 60s, events: [{ at: 8s, action: kill, server: cas1 }, ...] }
                       actions: kill, restart, maintenance-on, maintenance-off, drain, enable
  --mix FILE           request shares, Pings and tunnels as for bench load (default: the built-in Exchange mix)
  --concurrency N      request loops, closed loop (default 12)
  --pings N            ActiveSync Pings held (default 40; overrides the mix)
  --heartbeat D        how long the mock holds each Ping (default 60s: longer than a phase, as on phones)
  --tunnels N          RPC tunnels (default 6; overrides the mix)
  --latency MS         delay each CAS adds before answering a request (default 20)
  --interval D         health probe interval (default 500ms); --fall N (3), --rise N (2)
  --slow-start D       slow start after recovery (default 2s)
  --drain-timeout D    drain deadline before long-lived connections are cut (default half a phase)
  --bucket D           timeline bucket (default 500ms)
  --out DIR            output directory (default bench/out/failover-<timestamp>)
`;

const DEFAULT_MIX: MixSpec = MixSchema.parse({
  headers: { authorization: 'Basic dXNlcjFAY29udG9zby5jb206UGFzc3dvcmQx' },
  requests: [
    { kind: 'owa', share: 35 },
    { kind: 'ews', share: 25 },
    { kind: 'mapi', share: 30 },
    { kind: 'oab', share: 5 },
    { kind: 'get', share: 5, path: '/Autodiscover/Autodiscover.xml' },
  ],
  activesync: { concurrent: 40, heartbeatMs: 60_000 },
  rpc: { tunnels: 6, trickleBytes: 64, trickleIntervalMs: 500 },
});

function duration(text: string, flag: string): number {
  const v = parseDuration(text);
  if (v === undefined) throw new Error(`${flag}: expected a duration like 500ms or 8s, got ${JSON.stringify(text)}`);
  return v;
}

function int(text: string, flag: string, min: number): number {
  const v = Number(text);
  if (!Number.isInteger(v) || v < min) throw new Error(`${flag}: expected a whole number of at least ${min}`);
  return v;
}

const sleepUntil = (t: number) => new Promise((r) => setTimeout(r, Math.max(0, t - performance.now())));

/** Bad options or schedule: a message and exit status 2, no stack. */
class OptionError extends Error {}

export async function main(argv: string[]): Promise<number> {
  try {
    return await run(argv);
  } catch (err) {
    process.stderr.write(`casgate bench failover: ${err instanceof Error ? err.message : String(err)}\n`);
    return err instanceof OptionError ? 2 : 1;
  }
}

async function options(argv: string[]) {
  try {
    const { values } = parseArgs({
    args: argv,
    options: {
      servers: { type: 'string', default: '3' },
      phase: { type: 'string', default: '8s' },
      schedule: { type: 'string' },
      mix: { type: 'string' },
      concurrency: { type: 'string', default: '12' },
      pings: { type: 'string' },
      heartbeat: { type: 'string' },
      tunnels: { type: 'string' },
      latency: { type: 'string', default: '20' },
      interval: { type: 'string', default: '500ms' },
      fall: { type: 'string', default: '3' },
      rise: { type: 'string', default: '2' },
      'slow-start': { type: 'string', default: '2s' },
      'drain-timeout': { type: 'string' },
      bucket: { type: 'string', default: '500ms' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const servers = int(values.servers!, '--servers', 2);
  const phaseMs = duration(values.phase!, '--phase');
  const schedule: Schedule = values.schedule ? await loadScheduleFile(values.schedule) : defaultSchedule(servers, phaseMs);
  validateSchedule(schedule, servers);
  const mix = values.mix ? await loadMixFile(values.mix) : DEFAULT_MIX;
  const concurrency = int(values.concurrency!, '--concurrency', 1);
  const pings = values.pings !== undefined ? int(values.pings, '--pings', 0) : (mix.activesync?.concurrent ?? 0);
  const heartbeatMs = values.heartbeat !== undefined ? duration(values.heartbeat, '--heartbeat') : (mix.activesync?.heartbeatMs ?? 60_000);
  const tunnels = values.tunnels !== undefined ? int(values.tunnels, '--tunnels', 0) : (mix.rpc?.tunnels ?? 0);
  const latencyMs = int(values.latency!, '--latency', 0);
  const intervalMs = duration(values.interval!, '--interval');
  const fall = int(values.fall!, '--fall', 1);
  const rise = int(values.rise!, '--rise', 1);
  const slowStartMs = duration(values['slow-start']!, '--slow-start');
  const drainTimeoutMs = values['drain-timeout'] !== undefined ? duration(values['drain-timeout'], '--drain-timeout') : Math.round(phaseMs / 2);
  const bucketMs = duration(values.bucket!, '--bucket');
  if (!(bucketMs > 0)) throw new Error('--bucket: expected a positive duration');
  const startedAt = new Date();
  const outDir = resolve(values.out ?? join('bench', 'out', `failover-${startedAt.toISOString().replace(/[:.]/g, '-')}`));
    return { servers, phaseMs, schedule, mix, concurrency, pings, heartbeatMs, tunnels, latencyMs, intervalMs, fall, rise, slowStartMs, drainTimeoutMs, bucketMs, startedAt, outDir };
  } catch (err) {
    throw new OptionError(err instanceof Error ? err.message : String(err));
  }
}

async function run(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  const { servers, schedule, mix, concurrency, pings, heartbeatMs, tunnels, latencyMs, intervalMs, fall, rise, slowStartMs, drainTimeoutMs, bucketMs, startedAt, outDir } =
    await options(argv);

  let log: RunLog | undefined;
  const lab = await FailoverLab.start({
    servers,
    intervalMs,
    fall,
    rise,
    slowStartMs,
    drainTimeoutMs,
    latencyMs,
    onRecord: (r) => {
      const m = /[?&]bench=(\d+)/.exec(r.url);
      if (!m || !log) return;
      log.gateway.set(Number(m[1]), { startedAt: r.startedAt, ...(r.backend !== undefined ? { backend: r.backend } : {}), attempts: r.attempts });
    },
  });
  const connect = { ca: lab.ca, servername: HOSTNAME };
  const progress = (text: string) => process.stderr.write(`${text}\n`);
  progress(
    `bench failover: ${servers} CAS processes, ${concurrency} request loops, ${pings} Pings, ${tunnels} tunnels; ` +
      `${schedule.events.length} events over ${schedule.durationMs / 1000} s; output in ${outDir}`,
  );

  const run = new RunLog();
  log = run;
  lab.startSampling(run.t0);
  const load = new RequestLoad(lab.origin, connect, mix, concurrency, run);
  const pingClients = new PingClients(lab.origin, connect, pings, mix.activesync?.path ?? '/Microsoft-Server-ActiveSync', heartbeatMs, mix.headers, run);
  const rpc = mix.rpc;
  const tunnelClients = new TunnelClients('127.0.0.1', lab.httpsPort, connect, tunnels, rpc?.path ?? '/rpc/rpcproxy.dll?cas1.contoso.com:6001', rpc?.trickleBytes ?? 64, rpc?.trickleIntervalMs ?? 500, mix.headers, run);
  const events: FailoverEvent[] = [];
  let endMs = 0;
  try {
    if (mix.requests.length > 0) load.start();
    pingClients.start();
    tunnelClients.start();
    for (const e of schedule.events) {
      await sleepUntil(run.t0 + e.at);
      const at = performance.now() - run.t0;
      events.push({ at, action: e.action, server: e.server });
      await lab.act(e.action, e.server);
      progress(`  ${(at / 1000).toFixed(1)} s  ${e.action} ${e.server} (done in ${Math.round(performance.now() - run.t0 - at)} ms)`);
    }
    await sleepUntil(run.t0 + schedule.durationMs);
  } finally {
    endMs = performance.now() - run.t0;
    await pingClients.stop();
    tunnelClients.stop();
    await load.stop();
    // Let the gateway record what the clients just closed, so that held Pings are attributed too.
    await new Promise((r) => setTimeout(r, 300));
    await lab.stop();
  }

  const samples = run.samples();
  const losses = run.heldLosses();
  const perEvent = summarizeEvents(events, samples, losses, lab.availability, endMs);
  const overall = summarizeWindow(samples, losses, undefined, 0, endMs);
  // Overall, "on a failed server" means on the server of the event whose window the loss fell in.
  overall.total.lostOnServer = perEvent.reduce((s, e) => s + e.total.lostOnServer, 0);
  overall.total.lostElsewhere = overall.total.lostElsewhere - overall.total.lostOnServer;
  for (const [kind, k] of Object.entries(overall.kinds)) {
    k.lostOnServer = perEvent.reduce((s, e) => s + (e.kinds[kind]?.lostOnServer ?? 0), 0);
    k.lostElsewhere -= k.lostOnServer;
  }
  // Whole buckets only: a last partial one would read as a drop in traffic.
  const timeline = bucketize(samples, { startMs: 0, endMs: Math.max(bucketMs, Math.floor(endMs / bucketMs) * bucketMs), widthMs: bucketMs, backends: lab.serverNames });
  const errors: ErrorMark[] = [
    ...samples.filter(isLost).map((s) => ({ t: s.endAt, kind: s.kind })),
    ...losses.filter((l) => l.type === 'rpc').map((l) => ({ t: l.lostAt, kind: 'rpc tunnel' })),
  ];
  const perBackend: Record<string, number> = {};
  for (const s of samples) if (s.backend) perBackend[s.backend] = (perBackend[s.backend] ?? 0) + 1;

  mkdirSync(outDir, { recursive: true });
  const files = { json: join(outDir, 'result.json'), markdown: join(outDir, 'summary.md'), svg: join(outDir, 'timeline.svg') };
  const result: FailoverResult = {
    tool: 'casgate bench failover',
    startedAt: startedAt.toISOString(),
    durationMs: Math.round(endMs),
    settings: {
      servers,
      concurrency,
      pings,
      heartbeatMs,
      tunnels,
      latencyMs,
      health: { intervalMs, fall, rise },
      slowStartMs,
      drainTimeoutMs,
      bucketMs,
      gateway: 'in-process',
    },
    events,
    perEvent,
    overall,
    tunnels: { opened: tunnelClients.opened, failedOpens: tunnelClients.failedOpens, bytesSent: tunnelClients.bytesSent },
    perBackend: Object.fromEntries(Object.entries(perBackend).sort()),
    files,
  };
  const markdown = toMarkdown(result);
  writeFileSync(files.svg, renderTimelineSvg({ title: `casgate bench failover, ${startedAt.toISOString()}`, timeline, events, errors, availability: lab.availability, endMs }));
  writeFileSync(files.markdown, markdown);
  writeFileSync(files.json, `${JSON.stringify({ ...result, timeline, availability: lab.availability, heldLosses: losses }, null, 2)}\n`);
  process.stdout.write(markdown);
  progress(`wrote ${files.markdown}, ${files.json}, ${files.svg}`);
  return 0;
}
