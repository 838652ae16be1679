// The primary of a multi-process instance (`workers` > 1): the control plane, and no client traffic. It loads and
// provisions the config, serves the admin listener, runs the health probes once per backend per interval, decides
// outlier ejections from its workers' reports, applies drains, enables and reloads, and mirrors every backend state
// change to the workers as it happens (Backend.observer). It forks the workers (node:cluster: their listen() goes
// through the primary's listening handle), replaces one that dies (with a back-off when they keep dying), makes and
// rotates the TLS ticket keys, and replaces workers one at a time on `casgate restart` / SIGUSR2.
//
// One spare worker is kept forked with its code loaded but not serving (no config, no listener): loading the code
// is most of a worker's start-up (over a second on a busy machine), so a dead worker's replacement is the spare
// given its config, which listens within milliseconds; then a new spare is forked (with the back-off).
import cluster, { type Worker } from 'node:cluster';
import { fileURLToPath } from 'node:url';
import { AggregatorRegistry, Counter, Gauge, Registry } from 'prom-client';
import type { LiveCounts } from '../admin/status.js';
import { AdminError, type AdminServer } from '../admin/server.js';
import type { Metrics } from '../admin/metrics.js';
import { ConfigError } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { Gateway, type ClusterAdmin } from '../gateway.js';
import type { Logger } from '../logging/logger.js';
import { provisionFile } from '../runtime/provision.js';
import type { Provisioned, Runtime, RuntimeConsumer } from '../runtime/runtime.js';
import type { Backend, BackendObserver } from '../upstream/backend.js';
import { workerCount } from './count.js';
import type { BackendState, FromWorker, MetricsJson, RuntimeTransfer, ToWorker } from './messages.js';
import { newTicketKeys } from './ticket-keys.js';

const HERE = fileURLToPath(import.meta.url);
const WORKER_MAIN = HERE.replace(/primary\.(js|ts)$/, 'worker-main.js').replace('/src/', '/dist/');

/** A worker that dies sooner than this after its start counts towards the back-off. */
const FAST_DEATH_MS = 10_000;
const MAX_BACKOFF_MS = 30_000;
/** Time a new worker has to listen (start-up and rolling restart). */
const START_TIMEOUT_MS = 30_000;
/** Time workers have to answer a status or metrics query; a silent one is left out of that answer. */
const QUERY_TIMEOUT_MS = 2_000;


/** spare: forked, code loaded, waiting for `init`; starting: init sent; serving: listening. */
type SlotState = 'spare' | 'starting' | 'serving' | 'retiring' | 'stopping';

interface Slot {
  worker: Worker;
  state: SlotState;
  startedAt: number;
  /** The worker sent `ready` (its message handler is in place). */
  ready: boolean;
  https?: string;
  http?: string;
  /** Resolves when the worker listens; rejects when it fails or exits first. */
  listening: Promise<void>;
  /** Sends `init` (now or when the worker is ready) and starts the listen deadline. */
  activate?: () => void;
}

export interface RestartResult {
  ok: boolean;
  problems?: string[];
  workers?: number;
  notApplied?: string[];
}

export interface ClusterPrimaryOptions {
  file: string;
  provisioned: Provisioned;
  logger: Logger;
}

export class ClusterPrimary implements ClusterAdmin, RuntimeConsumer {
  /** The control plane: admin listener, health probes, outlier detector, reloads; no HTTPS listener. */
  gateway!: Gateway;
  private runtime: Runtime | undefined;
  private readonly slots = new Map<number, Slot>();
  /** Listener settings new workers start with; a rolling restart takes them from the file. */
  private listen: Config['listen'];
  private count: number;
  private ticketKeys = newTicketKeys();
  /** The keys in effect are tls.ticketKeyFile's: not rotated here (the admin rotates the file). */
  private keysFromFile = false;
  private rotation: NodeJS.Timeout | undefined;
  /** tls.ticketKeyRotation of the timer in effect. */
  private rotationMs = 0;
  private fastDeaths = 0;
  private started = false;
  private stopping = false;
  private restarting: Promise<RestartResult> | undefined;
  private queryId = 0;
  private readonly pending = new Map<number, (reply: Extract<FromWorker, { t: 'reply' }>) => void>();
  private readonly registry = new Registry();
  private readonly deaths = new Counter({
    name: 'casgate_worker_deaths_total',
    help: 'Workers that ended without being asked to (crash, kill), by cause; each was replaced.',
    labelNames: ['cause'],
    registers: [this.registry],
  });
  private readonly observer: BackendObserver = {
    changed: (b) => this.broadcast({ t: 'state', states: [stateOf(b)] }),
    closedLongLived: (b, reason, minAgeMs) => this.broadcast({ t: 'closeLongLived', pool: b.pool, backend: b.name, reason, minAgeMs }),
  };

  private constructor(private readonly opts: ClusterPrimaryOptions) {
    this.listen = opts.provisioned.config.listen;
    this.count = workerCount(opts.provisioned.config.workers);
    const slots = this.slots;
    new Gauge({
      name: 'casgate_workers',
      help: 'Worker processes by state (serving; starting; spare: forked ahead to replace a worker that dies; retiring: replaced, finishing its connections).',
      labelNames: ['state'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const state of ['spare', 'starting', 'serving', 'retiring'] as const) this.set({ state }, [...slots.values()].filter((s) => s.state === state).length);
      },
    });
  }

  static async start(opts: ClusterPrimaryOptions): Promise<ClusterPrimary> {
    const primary = new ClusterPrimary(opts);
    // Workers accept from the shared listening socket (SCHED_NONE) unless NODE_CLUSTER_SCHED_POLICY says otherwise:
    // in `casgate bench workers` it took fewer CPU-seconds per new connection than node:cluster's round robin, where
    // the primary accepts and passes each connection to a worker (bench/RESULTS.md, "Workers").
    if (!process.env.NODE_CLUSTER_SCHED_POLICY) cluster.schedulingPolicy = cluster.SCHED_NONE;
    primary.setupWorkers(opts.provisioned.config.workerFlags);
    primary.gateway = await Gateway.start(opts.provisioned, {
      logger: opts.logger,
      source: { file: opts.file },
      role: 'control',
      cluster: primary,
      metricsWorker: 'primary',
      // The gateway's one call at start and at every reload reaches the workers through apply() below.
      consumers: [primary],
    });
    // exchange.authProtection: the primary's store is the instance's; every lock, clear and familiar address it makes
    // reaches the workers' mirrors (they decide each request locally).
    primary.gateway.authProtection.store.events = {
      lock: (lock) => primary.broadcast({ t: 'authLock', lock }),
      clear: (kind, key) => primary.broadcast({ t: 'authClear', kind, key }),
      familiar: (user, address, until) => primary.broadcast({ t: 'authFamiliar', user, address, until }),
    };
    // SIGUSR1 / POST /api/logs/reopen: the workers hold the access log the traffic is written to.
    const reopenOwn = primary.gateway.reopenLogs;
    primary.gateway.reopenLogs = async () => {
      primary.broadcast({ t: 'reopenLogs' });
      return reopenOwn();
    };
    const first = Array.from({ length: primary.count }, () => primary.spawn());
    try {
      await Promise.all(first.map((s) => s.listening));
    } catch (err) {
      await primary.stop();
      throw err;
    }
    primary.started = true;
    primary.spawn(true);
    primary.scheduleRotation();
    const admin = primary.gateway.addresses.admin;
    opts.logger.info('casgate listening', {
      https: first[0]!.https,
      http: first[0]!.http ?? 'off',
      admin: `${admin.address}:${admin.port}`,
      workers: primary.count,
      pid: process.pid,
    });
    return primary;
  }

  get addresses() {
    return this.gateway.addresses;
  }

  /**
   * The seam: the gateway hands every new runtime (start, SIGHUP, POST /api/reload, restart) to its consumers in one
   * call; this one watches the new backends' state and hands the runtime and every backend's state to the workers.
   */
  apply(runtime: Runtime): void {
    this.runtime = runtime;
    // tls.ticketKeyFile (re-read by every reload) wins over the primary's own keys, which it stops rotating.
    if (runtime.ticketKey && !runtime.ticketKey.equals(this.ticketKeys)) {
      this.ticketKeys = runtime.ticketKey;
      this.broadcast({ t: 'ticketKeys', keys: this.ticketKeys });
    } else if (!runtime.ticketKey && this.keysFromFile) {
      this.ticketKeys = newTicketKeys();
      this.broadcast({ t: 'ticketKeys', keys: this.ticketKeys });
    }
    this.keysFromFile = runtime.ticketKey !== undefined;
    if (this.started) this.scheduleRotation();
    for (const pool of runtime.pools.values()) for (const b of pool.backends) b.observer = this.observer;
    this.broadcast({ t: 'runtime', runtime: this.transfer(), states: this.states() });
  }

  private transfer(): RuntimeTransfer {
    const r = this.runtime!;
    return { file: r.file, config: { ...r.config, listen: this.listen }, certificates: [...r.certificates], caFiles: new Map(r.caFiles) };
  }

  private states(): BackendState[] {
    return [...this.runtime!.pools.values()].flatMap((p) => p.backends.map(stateOf));
  }

  private send(slot: Slot, message: ToWorker): void {
    if (slot.worker.isConnected()) slot.worker.send(message);
  }

  private broadcast(message: ToWorker): void {
    // A spare gets everything current in its `init` when it is put in service.
    for (const slot of this.slots.values()) if (slot.state !== 'stopping' && slot.state !== 'spare') this.send(slot, message);
  }

  /** What every worker forked from now on starts with: node's own flags and then `workerFlags` (the last wins). */
  private setupWorkers(flags: readonly string[]): void {
    cluster.setupPrimary({ exec: WORKER_MAIN, args: [], execArgv: [...process.execArgv, ...flags], serialization: 'advanced' });
  }

  private spawn(spare = false): Slot {
    const worker = cluster.fork();
    let ready!: () => void;
    let failed!: (err: Error) => void;
    const listening = new Promise<void>((resolve, reject) => {
      ready = resolve;
      failed = reject;
    });
    listening.catch(() => undefined);
    const slot: Slot = { worker, state: spare ? 'spare' : 'starting', startedAt: Date.now(), ready: false, listening };
    this.slots.set(worker.id, slot);
    let timer: NodeJS.Timeout | undefined;
    slot.activate = () => {
      slot.state = 'starting';
      timer = setTimeout(() => failed(new Error(`worker ${worker.id} did not listen within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
      timer.unref();
      if (slot.ready) this.init(slot);
    };
    if (!spare) slot.activate();
    worker.on('message', (m: FromWorker) => {
      switch (m.t) {
        case 'ready':
          slot.ready = true;
          if (slot.state === 'starting') this.init(slot);
          return;
        case 'listening':
          clearTimeout(timer);
          slot.https = m.https;
          if (m.http) slot.http = m.http;
          if (slot.state === 'starting') slot.state = 'serving';
          this.opts.logger.info('worker serving', { worker: worker.id, pid: worker.process.pid, https: m.https });
          ready();
          return;
        case 'failed':
          clearTimeout(timer);
          failed(Object.assign(new Error(m.error), m.code ? { code: m.code } : {}));
          return;
        case 'result':
          this.gateway.reportBackendResult(m.pool, m.backend, m.ok, m.code);
          return;
        case 'authOutcome':
          if (m.outcome === 'failure') this.gateway.authProtection.failure(m.user, m.address);
          else this.gateway.authProtection.success(m.user, m.address);
          return;
        case 'authTotals':
          this.gateway.authProtection.addTotals(m.delta);
          return;
        case 'reply':
          this.pending.get(m.id)?.(m);
      }
    });
    worker.on('error', (err) => this.opts.logger.warn('worker channel error', { worker: worker.id, error: err.message }));
    worker.once('exit', (code, signal) => {
      clearTimeout(timer);
      failed(new Error(`worker ${worker.id} exited (${signal ?? `code ${code}`}) before listening`));
      this.onExit(slot, code, signal);
    });
    return slot;
  }

  private init(slot: Slot): void {
    const { worker } = slot;
    this.send(slot, { t: 'init', worker: worker.id, runtime: this.transfer(), ticketKeys: this.ticketKeys, states: this.states(), shield: this.gateway.authProtection.store.share() });
  }

  /** Puts a worker in service: the spare if there is one (its code is loaded), else a new process. */
  private replace(): Slot {
    const spare = [...this.slots.values()].find((s) => s.state === 'spare');
    if (!spare) return this.spawn();
    spare.activate!();
    return spare;
  }

  private onExit(slot: Slot, code: number | null, signal: string | null): void {
    this.slots.delete(slot.worker.id);
    const pid = slot.worker.process.pid;
    if (slot.state === 'retiring' || slot.state === 'stopping' || this.stopping) {
      this.opts.logger.info('worker exited', { worker: slot.worker.id, pid, code: code ?? undefined, signal: signal ?? undefined });
      return;
    }
    const cause = signal ? `signal ${signal}` : `exit code ${code}`;
    const lived = Date.now() - slot.startedAt;
    this.deaths.inc({ cause: signal ?? `exit ${code}` });
    if (!this.started) return; // start-up fails as a whole (Promise.all in start)
    this.fastDeaths = lived < FAST_DEATH_MS ? this.fastDeaths + 1 : 0;
    // The first replacement is at once; workers that keep dying young are replaced ever more slowly (up to 30 s).
    const delay = this.fastDeaths <= 1 ? 0 : Math.min(MAX_BACKOFF_MS, 500 * 2 ** (this.fastDeaths - 2));
    const hasSpare = [...this.slots.values()].some((s) => s.state === 'spare');
    const wasSpare = slot.state === 'spare';
    this.opts.logger.error(wasSpare ? 'spare worker died; forking another' : 'worker died; replacing it', {
      worker: slot.worker.id,
      pid,
      cause,
      uptime: `${lived}ms`,
      ...(wasSpare ? {} : { replacement: hasSpare && delay === 0 ? 'spare' : `new process in ${delay}ms` }),
    });
    const inService = () => [...this.slots.values()].filter((s) => s.state === 'starting' || s.state === 'serving').length;
    if (!wasSpare && delay === 0 && inService() < this.count) this.replace();
    setTimeout(() => {
      if (this.stopping) return;
      if (inService() < this.count) this.replace();
      if (![...this.slots.values()].some((s) => s.state === 'spare')) this.spawn(true);
    }, delay).unref();
  }

  /** (Re)starts the rotation timer when tls.ticketKeyRotation changed (a reload may change it). */
  private scheduleRotation(): void {
    const ms = this.runtime!.config.tls.ticketKeyRotation;
    if (ms === this.rotationMs || this.stopping) return;
    clearInterval(this.rotation);
    this.rotationMs = ms;
    this.rotation = setInterval(() => this.rotateTicketKeys(), ms).unref();
  }

  private rotateTicketKeys(): void {
    if (this.keysFromFile) return;
    this.ticketKeys = newTicketKeys();
    this.broadcast({ t: 'ticketKeys', keys: this.ticketKeys });
    this.opts.logger.info('TLS session ticket keys rotated', { workers: this.slots.size });
  }

  /**
   * Replaces every worker, one at a time: a new one listens before an old one stops accepting (the listening socket
   * stays open in this process throughout, so no connection attempt is refused); the old one finishes its requests
   * and keeps its long-lived connections until they end or drainTimeout passes. The file is read again first:
   * pools, routes and certificates apply to every worker as a reload; `listen` and `workers` to the new workers.
   */
  restart(): Promise<RestartResult> {
    this.restarting ??= this.rollingRestart().finally(() => (this.restarting = undefined));
    return this.restarting;
  }

  private async rollingRestart(): Promise<RestartResult> {
    const log = this.opts.logger;
    let next: Provisioned;
    try {
      next = provisionFile(this.opts.file);
    } catch (err) {
      const problems = err instanceof ConfigError ? err.problems : [`${this.opts.file}: ${(err as Error).message}`];
      log.error('restart refused; the running workers stay', { file: this.opts.file, problems: problems.length });
      for (const p of problems) log.error(p);
      return { ok: false, problems };
    }
    // listen, workers and workerFlags first: the reload below hands the runtime to the workers with them.
    this.listen = next.config.listen;
    this.count = workerCount(next.config.workers);
    this.setupWorkers(next.config.workerFlags);
    const reloaded = this.gateway.reload(next);
    if (!reloaded.ok) return { ok: false, ...(reloaded.problems ? { problems: reloaded.problems } : {}) };
    // The spare runs the code that was on disk when it was forked: a new one is forked after the restart.
    for (const spare of [...this.slots.values()].filter((s) => s.state === 'spare')) {
      spare.state = 'stopping';
      this.send(spare, { t: 'stop' });
    }
    const old = [...this.slots.values()].filter((s) => s.state === 'starting' || s.state === 'serving');
    const drainTimeout = Math.max(0, ...[...this.gateway.pools.values()].map((p) => p.plan.config.drainTimeout));
    log.info('rolling restart', { old: old.length, new: this.count, drainTimeout: `${drainTimeout}ms` });
    for (let i = 0; i < Math.max(old.length, this.count); i++) {
      if (i < this.count) {
        const fresh = this.spawn();
        try {
          await fresh.listening;
        } catch (err) {
          log.error('rolling restart stopped: a new worker did not start; the old workers keep serving', { error: (err as Error).message });
          if (fresh.worker.isConnected()) this.retire(fresh, 0);
          return { ok: false, problems: [`a new worker did not start: ${(err as Error).message}`] };
        }
      }
      const previous = old[i];
      if (previous && this.slots.has(previous.worker.id)) this.retire(previous, drainTimeout);
    }
    if (!this.stopping) this.spawn(true);
    const notApplied = (reloaded.notApplied ?? []).filter((k) => k !== 'listen' && k !== 'workerFlags');
    log.info('rolling restart done', { workers: this.count });
    return { ok: true, workers: this.count, ...(notApplied.length ? { notApplied } : {}) };
  }

  private retire(slot: Slot, timeoutMs: number): void {
    slot.state = 'retiring';
    this.send(slot, { t: 'retire', timeoutMs });
    // A worker that does not finish within its drain time (plus a margin to close) is ended.
    setTimeout(() => {
      if (!slot.worker.isDead()) slot.worker.process.kill('SIGKILL');
    }, timeoutMs + 10_000).unref();
  }

  /** Sends a query to every worker that listens and collects the answers that come within QUERY_TIMEOUT_MS. */
  private query(what: 'counts' | 'metrics'): Promise<Array<Extract<FromWorker, { t: 'reply' }>>> {
    const targets = [...this.slots.values()].filter((s) => s.state === 'serving' || s.state === 'retiring');
    const id = ++this.queryId;
    const replies: Array<Extract<FromWorker, { t: 'reply' }>> = [];
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.pending.delete(id);
        resolve(replies);
      };
      const timer = setTimeout(done, QUERY_TIMEOUT_MS);
      this.pending.set(id, (reply) => {
        replies.push(reply);
        if (replies.length === targets.length) done();
      });
      if (targets.length === 0) return done();
      for (const slot of targets) this.send(slot, { t: 'query', id, what });
    });
  }

  serving(): number {
    return [...this.slots.values()].filter((s) => s.state === 'serving').length;
  }

  workersProblem(): string | undefined {
    const serving = this.serving();
    return serving < this.count ? `${serving} of ${this.count} workers serving` : undefined;
  }

  async live(): Promise<LiveCounts> {
    // The workers observe the requests: the status page's last-minute counts are theirs, summed (a worker that died
    // takes its own with it).
    const lastMinute: NonNullable<LiveCounts['lastMinute']> = {};
    const sum: LiveCounts = { backends: {}, pinnedConnections: 0, rpcTunnels: 0, lastMinute };
    for (const { counts } of await this.query('counts')) {
      if (!counts) continue;
      sum.pinnedConnections += counts.pinnedConnections;
      sum.rpcTunnels += counts.rpcTunnels;
      for (const [pool, c] of Object.entries(counts.lastMinute ?? {})) {
        const s = (lastMinute[pool] ??= { requests: 0, errors: 0 });
        s.requests += c.requests;
        s.errors += c.errors;
      }
      for (const [key, c] of Object.entries(counts.backends)) {
        const s = (sum.backends[key] ??= { active: 0, pinned: 0, longLived: 0 });
        s.active += c.active;
        s.pinned += c.pinned;
        s.longLived += c.longLived;
      }
    }
    return sum;
  }

  async metrics(primary: Metrics): Promise<string> {
    const own: MetricsJson = [
      ...(await primary.registry.getMetricsAsJSON()),
      ...(await primary.processRegistry.getMetricsAsJSON()).map((m) => ({ ...m, aggregator: 'sum' })),
      ...(await this.registry.getMetricsAsJSON()),
    ];
    const replies = await this.query('metrics');
    const all = [own, ...replies.map((r) => r.metrics ?? [])] as Parameters<typeof AggregatorRegistry.aggregate>[0];
    return AggregatorRegistry.aggregate(all).metrics();
  }

  register(admin: AdminServer): void {
    admin.on('GET', '/api/workers', () => ({
      json: {
        primary: { pid: process.pid },
        workers: [...this.slots.values()].map((s) => ({
          id: s.worker.id,
          pid: s.worker.process.pid,
          state: s.state,
          startedAt: new Date(s.startedAt).toISOString(),
          ...(s.https ? { https: s.https } : {}),
        })),
      },
    }));
    admin.on('POST', '/api/restart', async () => {
      if (this.stopping) throw new AdminError(409, 'the instance is stopping');
      const result = await this.restart();
      return { status: result.ok ? 200 : 422, json: result };
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.rotation);
    const exits = [...this.slots.values()].map(
      (slot) =>
        new Promise<void>((resolve) => {
          if (slot.worker.isDead()) return resolve();
          slot.worker.once('exit', () => resolve());
          slot.state = 'stopping';
          this.send(slot, { t: 'stop' });
          setTimeout(() => {
            if (!slot.worker.isDead()) slot.worker.process.kill('SIGKILL');
          }, 10_000).unref();
        }),
    );
    await Promise.all(exits);
    await this.gateway?.stop();
  }
}

function stateOf(b: Backend): BackendState {
  return { pool: b.pool, backend: b.name, state: b.snapshot() };
}
