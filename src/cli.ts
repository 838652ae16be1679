#!/usr/bin/env node
// casgate command line. Each verb has --help. Errors are one clear message and exit code 1 (2 for usage).
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError, loadAdminSettings, loadConfigFile } from './config/load.js';
import { descriptorLimit, descriptorLimitWarning } from './frontend/descriptor-limit.js';
import { publishedHostnames } from './config/plan.js';
import { Gateway } from './gateway.js';
import { createLogger, type Logger } from './logging/logger.js';
import { provisionFile } from './runtime/provision.js';
import type { Provisioned } from './runtime/runtime.js';
import { workerCount } from './cluster/count.js';
import { coverageReport, EXPIRY_WARNING_DAYS } from './tls/coverage.js';
import { CertificateError } from './tls/certificate.js';
import { describeCertificate, loadCertificateFile } from './tls/inspect.js';
import { VERSION } from './version.js';
import { callAdmin, renderStatusText } from './admin/client.js';
import type { GatewayStatus } from './admin/status-view.js';
import type { BlockList } from 'node:net';
import type { Config } from './config/schema.js';
import { strictTransportSecurity } from './proxy/headers.js';

const USAGE = `casgate: TLS front end and layer-7 load balancer for Exchange Client Access Servers

Usage: casgate <verb> [options]
       casgate --version

  run --config FILE            run the proxy (real deployments)
  lab [--https-port 8443]      the lab: mock CAS servers and casgate in front (npm start)
  check --config FILE [--allow-uncovered]
                               validate a config and report certificate coverage; exit 0 or 1
  restart --config FILE        replace the workers of a running instance one at a time (= SIGUSR2)
  status --config FILE         the running instance's pools and CAS servers, for a terminal
  backend drain|enable|disable SERVER [--pool POOL] [--timeout T] --config FILE
                               take a CAS out of (or back into) service on the running instance
  cert inspect FILE [--password P] [--key KEYFILE]
                               show a certificate (PFX, PEM, DER .cer; the key is optional): names, issuer,
                               validity, key, SHA-256 pin, encryption
  mock-cas --name cas1 --http-port N --https-port M
                               run one mock CAS server
  bench load|failover|workers|ha|spray
                               benchmarks (see bench/README.md; the developers' harnesses
                               peers and pings run from a clone: npm run bench:peers)

Run 'casgate <verb> --help' for a verb's options.
`;

class UsageError extends Error {}

type Options = NonNullable<ParseArgsConfig['options']>;

function parse(argv: string[], options: Options, help: string): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  try {
    const parsed = parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true });
    if (parsed.values.help) {
      process.stdout.write(help);
      process.exit(0);
    }
    return parsed as { values: Record<string, string | boolean | undefined>; positionals: string[] };
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n\n${help}`);
  }
}

async function runVerb(argv: string[]): Promise<number> {
  const help =
    'Usage: casgate run --config FILE\n\n  Runs the proxy with the given YAML configuration (see config/casgate.example.yaml).\n' +
    '  SIGHUP (or POST /api/reload on the admin listener) reloads the file: certificates, pools and routes change\n' +
    '  without dropping connections; a file `casgate check` would refuse is refused, with the same problems, and the\n' +
    '  running configuration stays.\n' +
    '  Changes to listen, admin and logging need a restart. SIGUSR1 (or POST /api/logs/reopen) reopens the access log\n' +
    '  file, for logrotate.\n' +
    '  With workers (config key workers: auto | N, default auto) this process is the primary: SIGUSR2 (or\n' +
    '  casgate restart) replaces the workers one at a time, which applies listen changes and new code on disk.\n';
  const { values } = parse(argv, { config: { type: 'string', short: 'c' } }, help);
  if (!values.config) throw new UsageError(`--config is required\n\n${help}`);
  const file = String(values.config);
  // Every step but listening, exactly as `casgate check` and a reload run them: a refusal is the same message.
  const provisioned = provisionFile(file);
  const logger = createLogger(provisioned.config.logging.level);
  const warning = descriptorLimitWarning(descriptorLimit());
  if (warning) logger.warn(warning);
  const hangup = reloadOnHangup(logger);
  if (workerCount(provisioned.config.workers) > 1) return runPrimary(file, provisioned, logger, hangup);
  const gateway = await Gateway.start(provisioned, { logger, source: { file } });
  hangup.attach(gateway);
  // logrotate: `postrotate kill -USR1 <pid>` makes casgate open its access log file again.
  const onUsr1 = () => void gateway.reopenLogs().then((reopened) => reopened && logger.info('access log reopened'));
  process.on('SIGUSR1', onUsr1);
  await untilSignal();
  hangup.stop();
  process.off('SIGUSR1', onUsr1);
  logger.info('stopping');
  await gateway.stop();
  return 0;
}

/**
 * `workers` above 1: this process is the primary (src/cluster/primary.ts), the control plane; the workers carry the
 * traffic. SIGHUP reloads (the workers get the new runtime), SIGUSR2 replaces the workers one at a time.
 */
async function runPrimary(file: string, provisioned: Provisioned, logger: Logger, hangup: ReturnType<typeof reloadOnHangup>): Promise<number> {
  const { ClusterPrimary } = await import('./cluster/primary.js');
  let primary: Awaited<ReturnType<typeof ClusterPrimary.start>> | undefined;
  // Listening before the start, like SIGHUP: Node's default for SIGUSR2 would end the process.
  const onUsr2 = () => {
    const p = primary;
    if (!p) return logger.warn('SIGUSR2 while starting: ignored; send it again once casgate is listening');
    logger.info('SIGUSR2: replacing the workers one at a time');
    p.gateway.controlPlane.guard('signal', () => void p.restart());
  };
  process.on('SIGUSR2', onUsr2);
  primary = await ClusterPrimary.start({ provisioned, file, logger });
  hangup.attach(primary.gateway);
  // logrotate: the workers write the access log; the primary has each of them open it again.
  const gateway = primary.gateway;
  const onUsr1 = () => void gateway.reopenLogs().then((reopened) => reopened && logger.info('access log reopened'));
  process.on('SIGUSR1', onUsr1);
  await untilSignal();
  hangup.stop();
  process.off('SIGUSR2', onUsr2);
  process.off('SIGUSR1', onUsr1);
  logger.info('stopping');
  await primary.stop();
  return 0;
}

/** The admin listener and token of the instance `--config` runs (restart, status, backend): the file's admin block only. */
function runningInstance(values: Record<string, string | boolean | undefined>, help: string): Config['admin'] {
  if (!values.config) throw new UsageError(`--config is required\n\n${help}`);
  return loadAdminSettings(String(values.config));
}

async function restartVerb(argv: string[]): Promise<number> {
  const help =
    'Usage: casgate restart --config FILE\n\n  Asks the running instance (its admin listener, from the config) to replace its workers one at a time\n' +
    '  (the same as SIGUSR2 to the primary): the config file is read again, new code on disk and listen changes take\n' +
    '  effect, no connection is refused, old workers finish their requests and long-lived connections (up to the\n' +
    '  pools\' drainTimeout). Exit 0 when every worker has been replaced.\n';
  const { values } = parse(argv, { config: { type: 'string', short: 'c' } }, help);
  const answer = await callAdmin(runningInstance(values, help), 'POST', '/api/restart');
  process.stdout.write(`${answer.text}\n`);
  return answer.status === 200 ? 0 : 1;
}

const BACKEND_ACTIONS = ['drain', 'enable', 'disable'] as const;

async function backendVerb(argv: string[]): Promise<number> {
  const help =
    'Usage: casgate backend drain|enable|disable SERVER [--pool POOL] [--timeout T] --config FILE\n\n' +
    '  Asks the running instance (its admin listener and token, from the config) to drain, disable or enable a CAS in\n' +
    '  every pool, or in one (--pool cas/owa), as the status page buttons and POST /api/backends/SERVER/ACTION do.\n' +
    '  drain: no new requests, those in flight finish, long-lived ones (Pings, RPC channels) are closed after --timeout\n' +
    "  (default: the pool's drainTimeout). Prints each pool's answer; exit 0 when the instance took it.\n";
  const { values, positionals } = parse(argv, { config: { type: 'string', short: 'c' }, pool: { type: 'string' }, timeout: { type: 'string' } }, help);
  const [action, server, ...extra] = positionals;
  if (!BACKEND_ACTIONS.includes(action as (typeof BACKEND_ACTIONS)[number]) || !server || extra.length) throw new UsageError(`expected drain, enable or disable and one server name\n\n${help}`);
  if (values.timeout !== undefined && action !== 'drain') throw new UsageError(`--timeout goes with drain only\n\n${help}`);
  const admin = runningInstance(values, help);
  const query = new URLSearchParams();
  if (values.pool !== undefined) query.set('pool', String(values.pool));
  if (values.timeout !== undefined) query.set('timeout', String(values.timeout));
  const answer = await callAdmin(admin, 'POST', `/api/backends/${encodeURIComponent(server)}/${action}${query.size ? `?${query}` : ''}`);
  let body: { error?: string; pools?: Array<{ pool: string; state: string; activeRequests: number; longLived: number }> } = {};
  try {
    body = JSON.parse(answer.text) as typeof body;
  } catch {
    body = { error: answer.text };
  }
  if (answer.status !== 200 || !body.pools) {
    process.stderr.write(`casgate: ${action} ${server}: ${body.error ?? `HTTP ${answer.status}`}\n`);
    return 1;
  }
  for (const p of body.pools) process.stdout.write(`${p.pool}: ${server} ${p.state} (${p.activeRequests} active, ${p.longLived} long-lived)\n`);
  return 0;
}

async function statusVerb(argv: string[]): Promise<number> {
  const help =
    'Usage: casgate status --config FILE\n\n' +
    '  Asks the running instance (its admin listener, from the config) for its state and prints it for a terminal:\n' +
    '  each pool, each CAS in it with its state, since when, requests in flight, pinned and long-lived connections and\n' +
    '  the reason in words. Exit 0 when the instance answered. The same as the status page and GET /api/status.\n';
  const { values } = parse(argv, { config: { type: 'string', short: 'c' } }, help);
  const answer = await callAdmin(runningInstance(values, help), 'GET', '/api/status');
  if (answer.status !== 200) {
    process.stderr.write(`casgate: status: HTTP ${answer.status}: ${answer.text}\n`);
    return 1;
  }
  process.stdout.write(renderStatusText(JSON.parse(answer.text) as GatewayStatus));
  return 0;
}

/**
 * SIGHUP reloads the config (as POST /api/reload does); nothing a reload does can end the process. Listening for it
 * starts before the gateway does: a SIGHUP sent while casgate starts (Node's default would end the process) is
 * logged and ignored.
 */
function reloadOnHangup(logger: Logger): { attach(gateway: Gateway): void; stop(): void } {
  let gateway: Gateway | undefined;
  const onHup = () => {
    if (!gateway) return logger.warn('SIGHUP while starting: ignored; send it again once casgate is listening');
    logger.info('SIGHUP: reloading the configuration');
    const g = gateway;
    g.controlPlane.guard('signal', () => g.reloadFromFile());
  };
  process.on('SIGHUP', onHup);
  return {
    attach: (g) => (gateway = g),
    stop: () => process.off('SIGHUP', onHup),
  };
}

async function labVerb(argv: string[]): Promise<number> {
  const help = `Usage: casgate lab [--https-port 8443] [--http-port 8080] [--admin-port 9090] [--servers 2] [--config FILE]

  Generates the lab certificates once (PFX password casgate-lab) into certs/lab/ when run from a clone, otherwise
  into $XDG_STATE_HOME/casgate/lab (default ~/.local/state/casgate/lab), starts mock CAS servers as child
  processes and casgate in front of them with config/lab.yaml. Ctrl-C stops everything.
`;
  const { values } = parse(
    argv,
    {
      'https-port': { type: 'string', default: '8443' },
      'http-port': { type: 'string', default: '8080' },
      'admin-port': { type: 'string', default: '9090' },
      servers: { type: 'string', default: '2' },
      config: { type: 'string' },
    },
    help,
  );
  const { startLab, labInstructions } = await import('./lab/lab.js');
  const logger = createLogger('info');
  const hangup = reloadOnHangup(logger);
  const lab = await startLab(
    {
      httpsPort: Number(values['https-port']),
      httpPort: Number(values['http-port']),
      adminPort: Number(values['admin-port']),
      servers: Number(values.servers),
      config: values.config as string | undefined,
    },
    logger,
  );
  process.stdout.write(labInstructions(lab, lab.caCertFile));
  hangup.attach(lab.gateway);
  await untilSignal();
  hangup.stop();
  logger.info('stopping the lab');
  await lab.stop();
  return 0;
}

/** A route's allow list as written (node's BlockList lists its rules newest first, each as `Subnet: IPv4 10.0.0.0/8`). */
function networksOf(list: BlockList): string {
  return [...list.rules].reverse().map((rule) => rule.replace(/^(Subnet|Address|Range): IPv[46] /, '')).join(', ');
}

async function checkVerb(argv: string[]): Promise<number> {
  const help =
    'Usage: casgate check --config FILE [--allow-uncovered]\n\n  Runs every step `casgate run` and a reload run, except listening: validates the configuration, reads every\n' +
    '  file it names (certificates, keys, CA files), builds the routes, pools and TLS contexts, and reports which\n' +
    `  published names the certificates cover and which certificates expire within ${EXPIRY_WARNING_DAYS} days. Starts nothing.\n` +
    '  Exit code 0 when `run` would accept the config, 1 otherwise; a published name no certificate covers is an error\n' +
    '  too unless --allow-uncovered is given. ${NAME} values come from the environment: NAME=value casgate check ...\n';
  const { values } = parse(argv, { config: { type: 'string', short: 'c' }, 'allow-uncovered': { type: 'boolean' } }, help);
  if (!values.config) throw new UsageError(`--config is required\n\n${help}`);
  const file = String(values.config);
  // The same refusal as `run` and a reload give (config-lifecycle.test.ts); how to give the example config's
  // ${...} variables is in the usage above and in the README ("Trying the example config").
  const { plan, coverage, warnings, config, certificates } = provisionFile(file);
  const out: string[] = [`${file}: configuration is valid (${plan.routes.length} routes, ${plan.pools.length} pools)`];
  for (const route of plan.routes) {
    const rpc = route.rpc ? ' (Outlook Anywhere too)' : '';
    const allow = route.allow ? `, only from ${networksOf(route.allow)}` : '';
    out.push(`  route ${route.name}: ${route.hosts ? route.hosts.join(',') : '*'}${route.path} -> pool ${route.pool}${rpc}${allow}`);
  }
  const trusted = config.listen.trustForwardedFrom;
  out.push(
    trusted.length
      ? `clients: the TCP peer; behind ${trusted.join(', ')} (trusted proxies), the address they name in X-Forwarded-For`
      : 'clients: the TCP peer (no trusted proxies: X-Forwarded-For from clients decides nothing)',
  );
  out.push(`HSTS: ${strictTransportSecurity(config.tls.hsts) ?? 'off'}`);
  out.push(...coverage);
  out.push(...warnings.map((w) => `warning: ${w}`));
  const uncovered = coverageReport(publishedHostnames(config), [...certificates]).hosts.filter((h) => !h.coveredBy).map((h) => h.host);
  const refused = uncovered.length > 0 && !values['allow-uncovered'];
  if (refused) out.push(`error: no certificate covers ${uncovered.join(', ')}; clients will get a name mismatch (--allow-uncovered accepts this)`);
  process.stdout.write(`${out.join('\n')}\n`);
  return refused ? 1 : 0;
}

async function certVerb(argv: string[]): Promise<number> {
  const help = 'Usage: casgate cert inspect FILE [--password P] [--key KEYFILE]\n\n  FILE is a PFX (Export-ExchangeCertificate -BinaryEncoded), a PEM certificate (with its key or not) or a DER\n  .cer export. Prints the SHA-256 fingerprint also as the fingerprint256 line that pins it in the config.\n';
  const { values, positionals } = parse(argv, { password: { type: 'string', short: 'p' }, key: { type: 'string' } }, help);
  const [sub, file] = positionals;
  if (sub !== 'inspect' || !file) throw new UsageError(help);
  const cert = loadCertificateFile(file, values.password as string | undefined, values.key as string | undefined);
  process.stdout.write(`${describeCertificate(cert)}\n`);
  return 0;
}

async function mockCasVerb(argv: string[]): Promise<number> {
  const { runMockCasProcess } = await import('./lab/mock-cas-main.js');
  await runMockCasProcess(argv);
  return 0;
}

async function benchVerb(argv: string[]): Promise<number> {
  const [kind, ...rest] = argv;
  if (kind === 'load') return (await import('./bench/load/main.js')).main(rest);
  if (kind === 'failover') return (await import('./bench/failover/main.js')).main(rest);
  if (kind === 'workers') return (await import('./bench/workers/main.js')).main(rest);
  if (kind === 'ha') return (await import('./bench/ha/main.js')).main(rest);
  if (kind === 'spray') return (await import('./bench/spray/main.js')).main(rest);
  throw new UsageError('Usage: casgate bench load|failover|workers|ha|spray [options]  (each has --help)\n');
}

function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const done = (signal: NodeJS.Signals) => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolve(signal);
    };
    process.on('SIGINT', done);
    process.on('SIGTERM', done);
  });
}

const VERBS: Record<string, (argv: string[]) => Promise<number>> = {
  run: runVerb,
  lab: labVerb,
  check: checkVerb,
  restart: restartVerb,
  backend: backendVerb,
  status: statusVerb,
  cert: certVerb,
  'mock-cas': mockCasVerb,
  bench: benchVerb,
};

async function main(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb === '--version' || verb === '-v' || verb === 'version') {
    process.stdout.write(`casgate ${VERSION} (node ${process.versions.node})\n`);
    return 0;
  }
  if (!verb || verb === '--help' || verb === '-h' || verb === 'help') {
    process.stdout.write(USAGE);
    return verb ? 0 : 2;
  }
  const run = VERBS[verb];
  if (!run) throw new UsageError(`unknown verb "${verb}"\n\n${USAGE}`);
  return run(rest);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`casgate: ${err.message}\n`);
      process.exit(2);
    }
    if (err instanceof ConfigError || err instanceof CertificateError) {
      process.stderr.write(`casgate: ${err.message}\n`);
      process.exit(1);
    }
    const e = err as NodeJS.ErrnoException;
    if (e?.code === 'EADDRINUSE' || e?.code === 'EACCES') {
      process.stderr.write(`casgate: cannot listen: ${e.message}\n`);
      process.exit(1);
    }
    process.stderr.write(`casgate: ${e?.stack ?? String(err)}\n`);
    process.exit(1);
  },
);
