// `casgate bench failover`: what users notice when a CAS fails or is patched. Starts N mock CAS processes and the
// gateway (lab.ts), runs the Exchange mix with ActiveSync Pings and RPC tunnels that reconnect when lost (clients.ts),
// carries out a schedule of outages and recoveries (schedule.ts), and writes, next to each other, a JSON result, a
// Markdown summary (report.ts) and a timeline chart (svg.ts), all computed from one event log (timeline.ts).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { durationMs, parseVerbArgs, runVerb, UsageError, wholeNumber } from '../args.js';
import { loadMixFile, MixSchema, type MixSpec } from '../load/mix.js';
import { PingClients, RequestLoad, RunLog, TunnelClients } from './clients.js';
import { FailoverLab } from './lab.js';
import { REMOTE_ACTIONS, RemoteTarget, type RemoteOptions } from './remote.js';
import { toMarkdown, type FailoverResult } from './report.js';
import { defaultSchedule, loadScheduleFile, validateSchedule, type Schedule } from './schedule.js';
import { renderTimelineSvg, type ErrorMark } from './svg.js';
import type { FailoverTarget } from './target.js';
import { bucketize, isLost, observedEvents, summarizeEvents, summarizeWindow, type FailoverEvent } from './timeline.js';

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

Against a casgate already running (in front of real CAS servers, or another lab), instead of the built-in lab:
  --url URL            where clients connect, e.g. https://mail.contoso.com (the mix's paths and headers, e.g. a
                       Basic Authorization for a test mailbox, come from --mix)
  --ca FILE | --insecure   how to trust its certificate (default: the system's CAs); --servername NAME for SNI
  --admin URL          casgate's admin listener (e.g. http://127.0.0.1:9090): backend names, when each left and
                       rejoined its pools, and drain/enable events; --token T (or CASGATE_ADMIN_TOKEN) for those
  --duration D         how long to run without a schedule (default 60s): kill a CAS or put it in maintenance by hand
                       meanwhile, and the report shows what users saw
  Requests are attributed to a server by Exchange's X-FEServer header: name casgate's servers as Exchange names them.
  A schedule may only drain and enable here; --servers, --phase, --latency, --interval, --fall, --rise, --slow-start
  and --drain-timeout configure the built-in lab and are refused.
`;

const DEFAULT_MIX: MixSpec = MixSchema.parse({
  headers: { authorization: 'Basic YWxpY2VAY29udG9zby5sYWI6UGFzc3cwcmQ=' },
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

const sleepUntil = (t: number) => new Promise((r) => setTimeout(r, Math.max(0, t - performance.now())));

/** Bad options or schedule (UsageError): a message and exit status 2, no stack. */
export async function main(argv: string[]): Promise<number> {
  return runVerb('failover', () => run(argv));
}

const LAB_ONLY = ['servers', 'phase', 'latency', 'interval', 'fall', 'rise', 'slow-start', 'drain-timeout'] as const;

async function options(argv: string[]) {
  try {
    const values = parseVerbArgs(argv, {
      servers: { type: 'string' },
      phase: { type: 'string' },
      schedule: { type: 'string' },
      mix: { type: 'string' },
      concurrency: { type: 'string', default: '12' },
      pings: { type: 'string' },
      heartbeat: { type: 'string' },
      tunnels: { type: 'string' },
      latency: { type: 'string' },
      interval: { type: 'string' },
      fall: { type: 'string' },
      rise: { type: 'string' },
      'slow-start': { type: 'string' },
      'drain-timeout': { type: 'string' },
      bucket: { type: 'string', default: '500ms' },
      out: { type: 'string' },
      url: { type: 'string' },
      ca: { type: 'string' },
      insecure: { type: 'boolean', default: false },
      servername: { type: 'string' },
      admin: { type: 'string' },
      token: { type: 'string' },
      duration: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    });
    const remote = values.url !== undefined;
    if (remote) {
      const labOnly = LAB_ONLY.filter((k) => values[k] !== undefined);
      if (labOnly.length) throw new Error(`--${labOnly.join(', --')}: configure the built-in lab; with --url they are casgate's own settings`);
      // Drain and enable go through casgate's admin API: refused now rather than at the first event, mid-run.
      if (values.schedule !== undefined && values.admin === undefined) throw new Error('--schedule with --url needs --admin (casgate\'s admin URL) and --token');
    } else {
      const remoteOnly = (['ca', 'servername', 'admin', 'token', 'duration', 'insecure'] as const).filter((k) => values[k] !== undefined && values[k] !== false);
      if (remoteOnly.length) throw new Error(`--${remoteOnly.join(', --')}: only with --url (a casgate already running)`);
    }
    const servers = wholeNumber(values.servers ?? '3', '--servers', 2);
    const phaseMs = durationMs(values.phase ?? '8s', '--phase');
    const schedule: Schedule | undefined = values.schedule
      ? await loadScheduleFile(values.schedule)
      : remote
        ? undefined
        : defaultSchedule(servers, phaseMs);
    const observeMs = remote && !schedule ? durationMs(values.duration ?? '60s', '--duration') : undefined;
    if (!remote) validateSchedule(schedule!, servers);
    const mix = values.mix ? await loadMixFile(values.mix) : DEFAULT_MIX;
    const concurrency = wholeNumber(values.concurrency!, '--concurrency', 1);
    const pings = values.pings !== undefined ? wholeNumber(values.pings, '--pings', 0) : (mix.activesync?.concurrent ?? 0);
    const heartbeatMs = values.heartbeat !== undefined ? durationMs(values.heartbeat, '--heartbeat') : (mix.activesync?.heartbeatMs ?? 60_000);
    const tunnels = values.tunnels !== undefined ? wholeNumber(values.tunnels, '--tunnels', 0) : (mix.rpc?.tunnels ?? 0);
    const latencyMs = wholeNumber(values.latency ?? '20', '--latency', 0);
    const intervalMs = durationMs(values.interval ?? '500ms', '--interval');
    const fall = wholeNumber(values.fall ?? '3', '--fall', 1);
    const rise = wholeNumber(values.rise ?? '2', '--rise', 1);
    const slowStartMs = durationMs(values['slow-start'] ?? '2s', '--slow-start');
    const drainTimeoutMs = values['drain-timeout'] !== undefined ? durationMs(values['drain-timeout'], '--drain-timeout') : Math.round(phaseMs / 2);
    const bucketMs = durationMs(values.bucket!, '--bucket');
    if (!(bucketMs > 0)) throw new Error('--bucket: expected a positive duration');
    const startedAt = new Date();
    const outDir = resolve(values.out ?? join('bench', 'out', `failover-${startedAt.toISOString().replace(/[:.]/g, '-')}`));
    const remoteOptions: RemoteOptions | undefined = remote
      ? {
          url: values.url!,
          insecure: values.insecure!,
          ...(values.ca !== undefined ? { caFile: values.ca } : {}),
          ...(values.servername !== undefined ? { servername: values.servername } : {}),
          ...(values.admin !== undefined ? { admin: values.admin } : {}),
          ...((values.token ?? process.env.CASGATE_ADMIN_TOKEN) ? { token: values.token ?? process.env.CASGATE_ADMIN_TOKEN } : {}),
        }
      : undefined;
    return { servers, schedule, observeMs, mix, concurrency, pings, heartbeatMs, tunnels, latencyMs, intervalMs, fall, rise, slowStartMs, drainTimeoutMs, bucketMs, startedAt, outDir, remoteOptions };
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

/** The remote casgate's servers are known once its admin API answered: check the schedule against them then. */
async function remoteTarget(o: RemoteOptions, schedule: Schedule | undefined): Promise<RemoteTarget> {
  const target = await RemoteTarget.connect(o);
  if (schedule) {
    try {
      validateSchedule(schedule, target.serverNames, REMOTE_ACTIONS);
    } catch (err) {
      throw new UsageError(err instanceof Error ? err.message : String(err));
    }
  }
  return target;
}

/** X-FEServer carries Exchange's name for the server, in its own case: use the target's spelling where they match. */
function canonicalName(names: readonly string[]): (name: string | undefined) => string | undefined {
  const byLower = new Map(names.map((n) => [n.toLowerCase(), n]));
  return (name) => (name === undefined ? undefined : (byLower.get(name.toLowerCase()) ?? name));
}

async function run(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  const o = await options(argv);
  const { schedule, mix, concurrency, pings, heartbeatMs, tunnels, bucketMs, startedAt, outDir } = o;

  let log: RunLog | undefined;
  const target: FailoverTarget = o.remoteOptions
    ? await remoteTarget(o.remoteOptions, schedule)
    : await FailoverLab.start({
        servers: o.servers,
        intervalMs: o.intervalMs,
        fall: o.fall,
        rise: o.rise,
        slowStartMs: o.slowStartMs,
        drainTimeoutMs: o.drainTimeoutMs,
        latencyMs: o.latencyMs,
        onRecord: (r) => {
          const m = /[?&]bench=(\d+)/.exec(r.url);
          if (!m || !log) return;
          log.gateway.set(Number(m[1]), { startedAt: r.startedAt, ...(r.backend !== undefined ? { backend: r.backend } : {}), attempts: r.attempts });
        },
      });
  const runMs = schedule?.durationMs ?? o.observeMs!;
  const connect = { ...target.tls };
  const progress = (text: string) => process.stderr.write(`${text}\n`);
  progress(
    `bench failover: casgate ${target.description}${o.remoteOptions ? '' : ` with ${o.servers} CAS processes`}, ${concurrency} request loops, ${pings} Pings, ${tunnels} tunnels; ` +
      (schedule ? `${schedule.events.length} events over ${runMs / 1000} s` : `watching for ${runMs / 1000} s`) +
      `; output in ${outDir}`,
  );

  const run = new RunLog();
  log = run;
  target.startSampling(run.t0);
  const load = new RequestLoad(target.origin, connect, mix, concurrency, run);
  const pingClients = new PingClients(target.origin, connect, pings, mix.activesync?.path ?? '/Microsoft-Server-ActiveSync', heartbeatMs, mix.headers, run);
  const rpc = mix.rpc;
  const tunnelClients = new TunnelClients(target.host, target.port, connect, tunnels, rpc?.path ?? '/rpc/rpcproxy.dll?cas1.contoso.com:6001', rpc?.trickleBytes ?? 64, rpc?.trickleIntervalMs ?? 500, mix.headers, run);
  const events: FailoverEvent[] = [];
  let endMs = 0;
  try {
    if (mix.requests.length > 0) load.start();
    pingClients.start();
    tunnelClients.start();
    for (const e of schedule?.events ?? []) {
      await sleepUntil(run.t0 + e.at);
      const at = performance.now() - run.t0;
      events.push({ at, action: e.action, server: e.server });
      await target.act(e.action, e.server);
      progress(`  ${(at / 1000).toFixed(1)} s  ${e.action} ${e.server} (done in ${Math.round(performance.now() - run.t0 - at)} ms)`);
    }
    await sleepUntil(run.t0 + runMs);
  } finally {
    endMs = performance.now() - run.t0;
    await pingClients.stop();
    tunnelClients.stop();
    await load.stop();
    // Let the gateway record what the clients just closed, so that held Pings are attributed too.
    await new Promise((r) => setTimeout(r, 300));
    await target.stop();
  }
  // Without a schedule, what casgate's admin API showed are the events.
  if (!schedule) events.push(...observedEvents(target.availability));

  const named = canonicalName(target.serverNames);
  const samples = run.samples().map((x) => (x.backend === undefined ? x : { ...x, backend: named(x.backend)! }));
  const losses = run.heldLosses().map((l) => ({
    ...l,
    ...(l.backend !== undefined ? { backend: named(l.backend)! } : {}),
    ...(l.reconnectedTo !== undefined ? { reconnectedTo: named(l.reconnectedTo)! } : {}),
  }));
  const serverNames = [...new Set([...target.serverNames, ...samples.flatMap((x) => (x.backend ? [x.backend] : []))])];
  const perEvent = summarizeEvents(events, samples, losses, target.availability, endMs);
  const overall = summarizeWindow(samples, losses, undefined, 0, endMs);
  // Overall, "on a failed server" means on the server of the event whose window the loss fell in.
  overall.total.lostOnServer = perEvent.reduce((s, e) => s + e.total.lostOnServer, 0);
  overall.total.lostElsewhere = overall.total.lostElsewhere - overall.total.lostOnServer;
  for (const [kind, k] of Object.entries(overall.kinds)) {
    k.lostOnServer = perEvent.reduce((s, e) => s + (e.kinds[kind]?.lostOnServer ?? 0), 0);
    k.lostElsewhere -= k.lostOnServer;
  }
  // Whole buckets only: a last partial one would read as a drop in traffic.
  const timeline = bucketize(samples, { startMs: 0, endMs: Math.max(bucketMs, Math.floor(endMs / bucketMs) * bucketMs), widthMs: bucketMs, backends: serverNames });
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
      servers: serverNames.length,
      concurrency,
      pings,
      heartbeatMs,
      tunnels,
      bucketMs,
      gateway: target.description,
      ...(o.remoteOptions
        ? {}
        : { lab: { latencyMs: o.latencyMs, health: { intervalMs: o.intervalMs, fall: o.fall, rise: o.rise }, slowStartMs: o.slowStartMs, drainTimeoutMs: o.drainTimeoutMs } }),
    },
    events,
    perEvent,
    overall,
    tunnels: { opened: tunnelClients.opened, failedOpens: tunnelClients.failedOpens, bytesSent: tunnelClients.bytesSent },
    perBackend: Object.fromEntries(Object.entries(perBackend).sort()),
    files,
  };
  const markdown = toMarkdown(result);
  writeFileSync(files.svg, renderTimelineSvg({ title: `casgate bench failover, ${startedAt.toISOString()}`, timeline, events, errors, availability: target.availability, endMs }));
  writeFileSync(files.markdown, markdown);
  writeFileSync(files.json, `${JSON.stringify({ ...result, timeline, availability: target.availability, heldLosses: losses }, null, 2)}\n`);
  process.stdout.write(markdown);
  progress(`wrote ${files.markdown}, ${files.json}, ${files.svg}`);
  return 0;
}
