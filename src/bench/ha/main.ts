// `casgate bench ha` (npm run test:ha / bench:ha): two casgate nodes behind one floating address moved by keepalived,
// built for real in network namespaces with the shipped deploy/keepalived/ files, under steady HTTPS load from a
// client namespace; then five faults: kill -9 of casgate on the master, casgate stopped on the master (planned
// maintenance), keepalived stopped on the master, the master's interface taken down, the old master brought back. For each: when the address moved and answered from the
// other node, which requests failed, which held connections were cut and when they were back, how many reconnecting
// TLS clients resumed their session. --json writes the figures (the CI test asserts on them), --results the section
// of bench/RESULTS.md and its timeline SVG.
//
// Needs root, `ip netns`, keepalived and curl; without them it says which is missing and exits with code 3.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { verbMain, type VerbValues } from '../args.js';
import { updateResultsFile } from '../results-file.js';
import { issueCertificate } from '../../tls/generate.js';
import { analyseScenario, VipRecorder, type ScenarioFigures, type ScenarioWindow } from './analyse.js';
import type { ClientEvent, ClientOptions } from './client.js';
import { NsProcess, waitFor } from './processes.js';
import { renderHaSection, renderTimelineSvg, replaceHaSection, type ActiveActiveFigures, type HaRun } from './report.js';
import { HOSTS, ip, missingPrerequisite, removeStale, Topology, VIP, VIP2 } from './topology.js';

export const EXIT_UNSUPPORTED = 3;
const HERE = dirname(fileURLToPath(import.meta.url));
// dist/bench/ha/main.js → repository root
const ROOT = resolve(HERE, '../../..');
const CLI = join(ROOT, 'dist/cli.js');
const CLIENT = join(ROOT, 'dist/bench/ha/client.js');
const DEPLOY = join(ROOT, 'deploy/keepalived');
const HOSTNAME = 'mail.contoso.lab';
const ADMIN_TOKEN = 'ha-bench-admin-token-0123456789';
const CAS = [
  { name: 'cas1', httpPort: 8081, httpsPort: 8441 },
  { name: 'cas2', httpPort: 8082, httpsPort: 8442 },
];

const USAGE = `Usage: casgate bench ha [--json FILE] [--results bench/RESULTS.md] [--keep-logs]

  Builds two casgate + keepalived nodes (deploy/keepalived/keepalived.conf), mock CAS servers and a client in network
  namespaces (prefix cgha<pid>-), runs five faults and an active/active check under load, prints what clients saw. About 100 s.
  --json FILE      the figures as JSON (test/ha/keepalived-pair.test.ts asserts on them)
  --results FILE   replace the "High availability pair" section of FILE (bench/RESULTS.md) and write its timeline SVG
                   next to it (bench/ha-timeline.svg)
  --keep-logs      keep the run's folder (configs, process logs, keepalived transitions) and print its path
  Needs root, ip netns, keepalived and curl; exits 3 when one is missing.
`;

/** The shipped keepalived.conf with only this network's addresses and the run's paths put in. */
export function templateKeepalived(shipped: string, o: { vip: string; vip2?: string; scriptDir: string; transitionsLog: string }): string {
  return shipped
    .replaceAll('192.0.2.50/24', `${o.vip}/24`)
    .replaceAll('192.0.2.51/24', `${o.vip2 ?? o.vip}/24`)
    .replaceAll('/etc/keepalived/casgate-notify.sh', join(o.scriptDir, 'casgate-notify.sh'))
    .replaceAll('/var/log/casgate-ha/transitions.log', o.transitionsLog);
}

function casgateConfig(dir: string): string {
  return [
    'listen:',
    '  https: { address: 0.0.0.0, port: 443 }',
    'admin:',
    '  address: 127.0.0.1',
    '  port: 9090',
    `  token: ${ADMIN_TOKEN}`,
    'certificates:',
    `  - { cert: ${join(dir, 'mail.crt')}, key: ${join(dir, 'mail.key')} }`,
    'tls:',
    `  ticketKeyFile: ${join(dir, 'ticket.key')}`,
    'pools:',
    '  cas:',
    '    health: { interval: 2s, unhealthyInterval: 2s }',
    '    servers:',
    ...CAS.map((c) => `      - { name: ${c.name}, host: ${HOSTS.cas}, port: ${c.httpPort}, httpsPort: ${c.httpsPort} }`),
    'exchange:',
    '  pool: cas',
    `  hostnames: [${HOSTNAME}]`,
    '  services: [owa, ews, activesync, rpc, autodiscover]',
    'logging: { level: warn, access: off }',
    '',
  ].join('\n');
}

class HaRunner {
  readonly topo = new Topology();
  readonly dir = `/run/${this.topo.names.sw.replace(/-sw$/, '')}`;
  readonly vip = new VipRecorder();
  readonly events: ClientEvent[] = [];
  private casgate = new Map<'lb1' | 'lb2', NsProcess>();
  private keepalived = new Map<'lb1' | 'lb2', NsProcess>();
  private others: NsProcess[] = [];
  private client?: NsProcess;
  private sampler?: NodeJS.Timeout;
  readonly t0 = Date.now();
  readonly marks: Array<{ at: number; label: string }> = [];

  log(line: string): void {
    process.stderr.write(`[ha ${((Date.now() - this.t0) / 1000).toFixed(1).padStart(5)} s] ${line}\n`);
  }

  async setUp(): Promise<void> {
    mkdirSync(this.dir, { mode: 0o755 });
    chmodSync(this.dir, 0o755);
    const ca = issueCertificate({ commonName: 'casgate HA bench CA', isCa: true });
    const leaf = issueCertificate({ commonName: HOSTNAME, dnsNames: [HOSTNAME], issuer: ca });
    writeFileSync(join(this.dir, 'mail.crt'), leaf.certPem + ca.certPem);
    writeFileSync(join(this.dir, 'mail.key'), leaf.keyPem, { mode: 0o600 });
    writeFileSync(join(this.dir, 'ca.crt'), ca.certPem);
    // The same key file on both nodes, as the README says to copy it.
    writeFileSync(join(this.dir, 'ticket.key'), randomBytes(48), { mode: 0o600 });
    writeFileSync(join(this.dir, 'casgate.yaml'), casgateConfig(this.dir));
    // keepalived runs scripts only when they and their folders are root's alone (enable_script_security).
    copyFileSync(join(DEPLOY, 'casgate-notify.sh'), join(this.dir, 'casgate-notify.sh'));
    chmodSync(join(this.dir, 'casgate-notify.sh'), 0o755);
    const shipped = readFileSync(join(DEPLOY, 'keepalived.conf'), 'utf8');
    for (const node of ['lb1', 'lb2'] as const) {
      const transitionsLog = join(this.dir, `${node}-transitions.log`);
      writeFileSync(transitionsLog, '');
      chownSync(transitionsLog, 65534, 65534); // the notify script runs as nobody
      writeFileSync(join(this.dir, `keepalived-${node}.conf`), templateKeepalived(shipped, { vip: VIP, scriptDir: this.dir, transitionsLog }));
    }

    this.topo.build();
    this.log(`namespaces ${Object.values(this.topo.names).join(', ')}; VIP ${VIP}`);
    for (const c of CAS) {
      const p = new NsProcess(c.name, this.topo.names.cas, [process.execPath, CLI, 'mock-cas', '--name', c.name, '--host', HOSTS.cas, '--http-port', String(c.httpPort), '--https-port', String(c.httpsPort)], join(this.dir, `${c.name}.log`));
      this.others.push(p);
    }
    // casgate started before its backends would mark them down at its first probes and stay unready until they rise.
    for (const p of this.others) {
      await waitFor(`${p.name} to listen`, () => {
        if (!p.running) throw new Error(`${p.name} exited:\n${p.tail()}`);
        return p.tail(5).includes('"event":"listening"');
      }, 15_000);
    }
    for (const node of ['lb1', 'lb2'] as const) this.startCasgate(node);
    await Promise.all((['lb1', 'lb2'] as const).map((n) => this.waitReady(n, 20_000)));
    this.log('casgate ready on lb1 and lb2');
    for (const node of ['lb1', 'lb2'] as const) this.startKeepalived(node);
    this.sampler = setInterval(() => this.vip.record(Date.now(), this.topo.holdsVip('lb1'), this.topo.holdsVip('lb2')), 50);
    const ms = await waitFor('lb1 to hold the VIP', () => this.topo.holdsVip('lb1'), 20_000, 50);
    this.log(`lb1 holds ${VIP} ${ms} ms after keepalived started`);
  }

  private startCasgate(node: 'lb1' | 'lb2'): void {
    this.casgate.set(node, new NsProcess(`casgate-${node}`, this.topo.names[node], [process.execPath, CLI, 'run', '--config', join(this.dir, 'casgate.yaml')], join(this.dir, `casgate-${node}.log`)));
  }

  private startKeepalived(node: 'lb1' | 'lb2', conf = `keepalived-${node}.conf`): void {
    const f = (s: string) => join(this.dir, `${node}-${s}`);
    // Foreground, log to stderr, VRRP only; pid files of its own; config id lb1/lb2 selects the @lb1/@lb2 lines.
    const argv = ['keepalived', '-n', '-l', '-D', '-P', '-i', node, '-f', join(this.dir, conf), '-p', f('keepalived.pid'), '-r', f('vrrp.pid')];
    this.keepalived.set(node, new NsProcess(`keepalived-${node}`, this.topo.names[node], argv, f('keepalived.log')));
  }

  private ready(node: 'lb1' | 'lb2'): boolean {
    try {
      ip('netns', 'exec', this.topo.names[node], 'curl', '-fsS', '--max-time', '1', '-o', '/dev/null', 'http://127.0.0.1:9090/ready');
      return true;
    } catch {
      return false;
    }
  }

  private async waitReady(node: 'lb1' | 'lb2', timeoutMs: number): Promise<void> {
    await waitFor(`casgate on ${node} to be ready`, () => {
      const p = this.casgate.get(node)!;
      if (!p.running) throw new Error(`casgate on ${node} exited:\n${p.tail()}`);
      return this.ready(node);
    }, timeoutMs);
  }

  startClient(o: Omit<ClientOptions, 'vip' | 'port' | 'servername' | 'ca'>): Promise<void> {
    const options: ClientOptions = { vip: VIP, port: 443, servername: HOSTNAME, ca: readFileSync(join(this.dir, 'ca.crt'), 'utf8'), ...o };
    const client = new NsProcess('client', this.topo.names.cl, [process.execPath, CLIENT, JSON.stringify(options)], join(this.dir, 'client.log'), { stdin: 'pipe', stdout: 'pipe' });
    this.client = client;
    let buf = '';
    return new Promise((resolve, reject) => {
      client.child.stdout!.on('data', (d: Buffer) => {
        buf += d.toString('utf8');
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          const ev = JSON.parse(line) as ClientEvent | { e: 'started' };
          if (ev.e === 'started') resolve();
          else this.events.push(ev);
        }
      });
      void client.exited.then((code) => reject(new Error(`the client exited (${code}):\n${client.tail()}`)));
    });
  }

  master(): 'lb1' | 'lb2' {
    const a = this.topo.holdsVip('lb1');
    const b = this.topo.holdsVip('lb2');
    if (a === b) throw new Error(`expected one node to hold the VIP, lb1: ${a}, lb2: ${b}`);
    return a ? 'lb1' : 'lb2';
  }

  async scenario(name: string, action: string, expectMove: boolean, act: (master: 'lb1' | 'lb2') => Promise<void> | void, windowMs: number, master = this.master()): Promise<ScenarioWindow> {
    const at = Date.now();
    this.marks.push({ at, label: name });
    this.log(`${name}: ${action.replace('<master>', master)}`);
    await act(master);
    await new Promise((r) => setTimeout(r, windowMs - (Date.now() - at)));
    return { name, action: action.replace('<master>', master), master, at, windowMs, expectMove };
  }

  async run(): Promise<{ windows: ScenarioWindow[]; figures: ScenarioFigures[]; activeActive: ActiveActiveFigures }> {
    await this.setUp();
    await this.startClient({ owaLoops: 3, ewsLoops: 3, pauseMs: 20, pings: 4, heartbeatMs: 3_000, rpcPairs: 2 });
    this.log('client load running (6 request loops, 4 Pings, 2 RPC channel pairs, a probe every 100 ms)');
    await new Promise((r) => setTimeout(r, 4_000));
    const windows: ScenarioWindow[] = [];

    windows.push(await this.scenario('1. kill -9 casgate', 'kill -9 of casgate on <master>', true, (m) => void this.casgate.get(m)!.child.kill('SIGKILL'), 10_000));
    await this.restartCasgate(windows.at(-1)!.master);

    // Planned maintenance of a node: casgate stopped first (SIGTERM, what `systemctl stop casgate` sends). It closes its
    // connections while it still holds the address, so clients notice at once; the track script then moves it.
    windows.push(await this.scenario('2. casgate stop', 'systemctl stop casgate (SIGTERM) on <master>', true, async (m) => this.casgate.get(m)!.stop('SIGTERM'), 8_000));
    await this.restartCasgate(windows.at(-1)!.master);

    windows.push(await this.scenario('3. keepalived stop', 'systemctl stop keepalived (SIGTERM) on <master>', true, async (m) => this.keepalived.get(m)!.stop('SIGTERM'), 8_000));
    const stopped = windows.at(-1)!.master;
    this.startKeepalived(stopped);
    await new Promise((r) => setTimeout(r, 4_000));
    this.log(`keepalived on ${stopped} running again; VIP on ${this.master()}`);

    windows.push(await this.scenario('4. interface down', 'ip link set eth0 down on <master>', true, (m) => this.topo.setLink(m, false), 12_000));
    const vanished = windows.at(-1)!.master;
    windows.push(
      await this.scenario('5. old master back', `ip link set eth0 up on ${vanished} (nopreempt: it stays BACKUP)`, false, () => this.topo.setLink(vanished, true), 8_000, vanished === 'lb1' ? 'lb2' : 'lb1'),
    );
    await this.stopClient();
    const activeActive = await this.activeActive();
    const figures = windows.map((w) => analyseScenario(w, this.events, this.vip.samples, { lb1: HOSTS.lb1, lb2: HOSTS.lb2 }));
    return { windows, figures, activeActive };
  }

  /** Which node answers `vip` for a client (curl in the client namespace; the mock CAS echoes casgate's address). */
  private answeredBy(vip: string): 'lb1' | 'lb2' | undefined {
    try {
      const body = ip('netns', 'exec', this.topo.names.cl, 'curl', '-fsS', '--max-time', '2', '--cacert', join(this.dir, 'ca.crt'), '--resolve', `${HOSTNAME}:443:${vip}`, `https://${HOSTNAME}/Autodiscover/ha-probe`);
      const addr = /"remoteAddress":\s*"(?:::ffff:)?([^"]+)"/.exec(body)?.[1];
      return addr === HOSTS.lb1 ? 'lb1' : addr === HOSTS.lb2 ? 'lb2' : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * The active/active file: both keepalived restarted with it; each node must hold its own address and answer on it;
   * kill -9 of casgate on lb2 must move lb2's address to lb1; casgate back on lb2, the address must return to it
   * (preempt_delay 10 s).
   */
  async activeActive(): Promise<ActiveActiveFigures> {
    const shipped = readFileSync(join(DEPLOY, 'keepalived-active-active.conf'), 'utf8');
    this.marks.push({ at: Date.now(), label: 'active/active' });
    this.log('active/active: keepalived restarted on both nodes with keepalived-active-active.conf');
    await Promise.all([...this.keepalived.values()].map((p) => p.stop('SIGTERM')));
    for (const node of ['lb1', 'lb2'] as const) {
      const transitionsLog = join(this.dir, `${node}-transitions.log`);
      writeFileSync(join(this.dir, `keepalived-aa-${node}.conf`), templateKeepalived(shipped, { vip: VIP, vip2: VIP2, scriptDir: this.dir, transitionsLog }));
      this.startKeepalived(node, `keepalived-aa-${node}.conf`);
    }
    const split = () => this.topo.holdsVip('lb1', VIP) && this.topo.holdsVip('lb2', VIP2) && !this.topo.holdsVip('lb1', VIP2) && !this.topo.holdsVip('lb2', VIP);
    const splitMs = await waitFor('lb1 to hold the first address and lb2 the second', split, 20_000, 50);
    const answers = { [VIP]: this.answeredBy(VIP), [VIP2]: this.answeredBy(VIP2) };
    this.log(`active/active: ${VIP} on lb1, ${VIP2} on lb2 after ${splitMs} ms; answered by ${answers[VIP]} and ${answers[VIP2]}`);
    const killedAt = Date.now();
    this.marks.push({ at: killedAt, label: 'kill -9 casgate lb2' });
    this.casgate.get('lb2')!.child.kill('SIGKILL');
    await waitFor(`lb1 to hold ${VIP2}`, () => this.topo.holdsVip('lb1', VIP2), 10_000, 50);
    const takeoverMs = await waitFor(`${VIP2} to answer from lb1`, () => this.answeredBy(VIP2) === 'lb1', 10_000, 50).then(() => Date.now() - killedAt);
    this.log(`active/active: ${VIP2} answered by lb1 ${takeoverMs} ms after kill -9 of casgate on lb2`);
    this.startCasgate('lb2');
    await this.waitReady('lb2', 20_000);
    const readyAt = Date.now();
    await waitFor(`lb2 to take ${VIP2} back`, () => this.topo.holdsVip('lb2', VIP2) && !this.topo.holdsVip('lb1', VIP2), 25_000, 50);
    const returnedMs = Date.now() - readyAt;
    const answeredBack = this.answeredBy(VIP2);
    await new Promise((r) => setTimeout(r, 1_000)); // keepalived runs its notify script after taking the address
    this.log(`active/active: ${VIP2} back on lb2 ${returnedMs} ms after its casgate was ready; answered by ${answeredBack}`);
    return { splitS: splitMs / 1000, answeredBy: [answers[VIP] ?? 'none', answers[VIP2] ?? 'none'], takeoverS: takeoverMs / 1000, returnedAfterReadyS: returnedMs / 1000, answeredBackBy: answeredBack ?? 'none' };
  }

  /** casgate started again on `node`, as systemd's Restart=on-failure would; the node comes back as BACKUP (nopreempt). */
  private async restartCasgate(node: 'lb1' | 'lb2'): Promise<void> {
    this.startCasgate(node);
    await this.waitReady(node, 20_000);
    await new Promise((r) => setTimeout(r, 3_000)); // the track script's rise 2
    this.log(`casgate on ${node} ready again; VIP on ${this.master()}`);
  }

  async stopClient(): Promise<void> {
    if (!this.client) return;
    this.client.child.stdin?.end();
    await Promise.race([this.client.exited, new Promise((r) => setTimeout(r, 3_000))]);
    await this.client.stop('SIGKILL', 0);
  }

  transitions(): string {
    return (['lb1', 'lb2'] as const).map((n) => readFileSync(join(this.dir, `${n}-transitions.log`), 'utf8').trim().split('\n').filter(Boolean).map((l) => `${n}: ${l}`).join('\n')).join('\n');
  }

  /** Stops everything in order, then deletes the namespaces (which kills whatever is left in them). */
  async tearDown(keep: boolean): Promise<void> {
    if (this.sampler) clearInterval(this.sampler);
    await this.stopClient().catch(() => undefined);
    await Promise.all([...this.keepalived.values()].map((p) => p.stop('SIGTERM', 2_000)));
    await Promise.all([...this.casgate.values(), ...this.others].map((p) => p.stop('SIGTERM', 2_000)));
    this.topo.destroy();
    if (keep) this.log(`run folder kept: ${this.dir}`);
    else rmSync(this.dir, { recursive: true, force: true });
  }
}

const OPTIONS = { json: { type: 'string' }, results: { type: 'string' }, 'keep-logs': { type: 'boolean' } } as const;

/** A bad option: `casgate bench ha: ...` and exit status 2 (../args.ts), as for the other bench verbs. */
export const main = verbMain('ha', USAGE, OPTIONS, run);

async function run(values: VerbValues<typeof OPTIONS>): Promise<number> {
  const missing = missingPrerequisite();
  if (missing) {
    process.stderr.write(`casgate bench ha: cannot run here: ${missing}\n`);
    return EXIT_UNSUPPORTED;
  }
  if (!existsSync(CLIENT)) throw new Error(`${CLIENT} is missing: run npm run build first`);
  const stale = removeStale();
  if (stale.length) process.stderr.write(`removed namespaces left by an earlier run: ${stale.join(', ')}\n`);

  const runner = new HaRunner();
  let torn = false;
  const tearDown = async () => {
    if (torn) return;
    torn = true;
    await runner.tearDown(Boolean(values['keep-logs']));
  };
  const onSignal = (signal: NodeJS.Signals) => {
    runner.log(`${signal}: tearing down`);
    void tearDown().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const started = new Date();
    const { figures, activeActive } = await runner.run();
    const run: HaRun = {
      date: started.toISOString(),
      durationS: Math.round((Date.now() - runner.t0) / 1000),
      node: process.version,
      keepalived: keepalivedVersion(),
      scenarios: figures,
      activeActive,
      transitions: runner.transitions(),
    };
    process.stdout.write(`${renderHaSection(run, 'ha-timeline.svg')}\n`);
    if (values.json) writeFileSync(values.json, `${JSON.stringify(run, null, 2)}\n`);
    if (values.results) {
      const file = values.results;
      updateResultsFile(file, (previous) => replaceHaSection(previous, renderHaSection(run, 'ha-timeline.svg')));
      writeFileSync(join(dirname(file), 'ha-timeline.svg'), renderTimelineSvg(run, runner.events, runner.vip.samples, runner.marks, runner.t0));
      process.stderr.write(`wrote ${file} and ${join(dirname(file), 'ha-timeline.svg')}\n`);
    }
    return 0;
  } catch (err) {
    runner.log(`failed: ${(err as Error).stack ?? String(err)}`);
    return 1;
  } finally {
    await tearDown();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function keepalivedVersion(): string {
  const r = spawnSync('keepalived', ['--version'], { encoding: 'utf8' });
  return /Keepalived v[\d.]+/.exec(`${r.stdout}${r.stderr}`)?.[0] ?? 'keepalived';
}
