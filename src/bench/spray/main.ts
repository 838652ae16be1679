// `casgate bench spray`: a password spray against the lab, with exchange.authProtection off and then on. A mock CAS
// (with the lab's user directory, whose accounts lock after 10 bad passwords as AD's do) and casgate (`casgate run`
// with a generated Exchange config) run as child processes. Spray clients bind their sockets to 127.1.x.y source
// addresses (all of 127.0.0.0/8 reaches loopback on Linux), try every user name with a few passwords each (Basic on
// EWS, and OWA form logons), while alice on her own address (127.0.0.77) keeps using EWS with her password.
// Reports per round: guesses that reached the CAS per user name, names that would have crossed an AD lockout
// threshold, accounts the directory locked, the legitimate user's failed requests, and casgate's CPU per attempt
// (from /proc), plus, with protection on, casgate's CPU per refused attempt over a burst that is refused entirely.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { stringify } from 'yaml';
import { loadDirectoryFile } from '../../lab/mock/directory.js';
import { spawnMockCasProcess, type MockCasProcess } from '../../lab/mock-process.js';
import { issueCertificate } from '../../tls/generate.js';
import { UsageError, verbMain, type VerbValues } from '../args.js';
import { updateResultsFile } from '../results-file.js';
import { cpuSeconds, freePort, portOpen } from '../procs.js';
import { renderSpray, replaceSpraySection, type SprayRound, type SprayRun } from './report.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..', '..');
const CLI = path.join(ROOT, 'dist', 'cli.js');
const HOST = 'mail.contoso.lab';
const LEGIT_ADDRESS = '127.0.0.77';
const THRESHOLD = 10;

export const USAGE = `usage: casgate bench spray [options]
  --users N          user names sprayed (default 300; the mock directory's real accounts first, then made-up names)
  --passwords N      passwords tried per name (default 12)
  --addresses N      spray source addresses, 127.1.x.y (default 200)
  --concurrency N    spray attempts in flight (default 16)
  --owa-share F      share of attempts that are OWA form logons (default 0.3; the rest Basic on EWS)
  --only off|on      run one round only
  --out DIR          summary.md and result.json (default bench/out/spray-<time>)
  --results FILE     also write the "## Password spray" section into FILE (e.g. bench/RESULTS.md)
`;

const log = (s: string): void => void process.stderr.write(`[spray ${new Date().toISOString().slice(11, 19)}] ${s}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Options {
  users: number;
  passwords: number;
  addresses: number;
  concurrency: number;
  owaShare: number;
}

interface Attempt {
  user: string;
  password: string;
  owa: boolean;
  address: string;
}

function plan(o: Options, realUsers: string[]): Attempt[] {
  const names = [...realUsers, ...Array.from({ length: Math.max(0, o.users - realUsers.length) }, (_, i) => `user${String(i).padStart(5, '0')}`)].slice(0, o.users);
  const attempts: Attempt[] = [];
  let k = 0;
  // Password by password across every name, as spray tools do (one guess per account per pass).
  for (let p = 0; p < o.passwords; p++) {
    for (const user of names) {
      const a = k++;
      attempts.push({ user, password: `Spring${2000 + p}!`, owa: (a * 7919) % 1000 < o.owaShare * 1000, address: `127.1.${Math.floor((a % o.addresses) / 250)}.${(a % o.addresses) % 250 + 1}` });
    }
  }
  return attempts;
}

async function runRound(o: Options, protection: 'off' | 'on', out: string, certFiles: { cert: string; key: string; ca: string }): Promise<SprayRound> {
  const mock: MockCasProcess = await spawnMockCasProcess('cas1');
  let gateway: ChildProcess | undefined;
  const agents = new Map<string, Agent>();
  const agentFor = (localAddress: string): Agent => {
    let a = agents.get(localAddress);
    if (!a) agents.set(localAddress, (a = new Agent({ localAddress, connections: 2, connect: { ca: readFileSync(certFiles.ca, 'utf8'), servername: HOST } })));
    return a;
  };
  try {
    const port = await freePort();
    const adminPort = await freePort();
    const config = {
      // One process: the CPU per attempt is read from this pid, and the spray counters live in it.
      workers: 1,
      listen: { https: { address: '127.0.0.1', port } },
      admin: { address: '127.0.0.1', port: adminPort },
      certificates: [{ cert: certFiles.cert, key: certFiles.key }],
      pools: { cas: { servers: [{ name: mock.name, host: '127.0.0.1', port: mock.httpPort, httpsPort: mock.httpsPort }] } },
      exchange: { pool: 'cas', hostnames: [HOST], authProtection: { enabled: protection === 'on' } },
      logging: { access: 'off' },
    };
    const configFile = path.join(out, `casgate-${protection}.yaml`);
    writeFileSync(configFile, `# Written by casgate bench spray.\n${stringify(config)}`);
    gateway = spawn(process.execPath, [CLI, 'run', '--config', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    gateway.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    const deadline = Date.now() + 15_000;
    while (!(await portOpen(port))) {
      if (Date.now() > deadline) throw new Error(`casgate did not listen: ${stderr}`);
      await sleep(200);
    }
    await sleep(1_500); // first health probes
    const url = `https://127.0.0.1:${port}`;
    const send = async (a: { user: string; password: string; owa: boolean }, address: string): Promise<{ status: number; casgate: boolean }> => {
      const res = a.owa
        ? await request(`${url}/owa/auth.owa`, {
            dispatcher: agentFor(address),
            method: 'POST',
            headers: { host: HOST, 'content-type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams({ destination: `https://${HOST}/owa/`, flags: '4', forcedownlevel: '0', username: a.user, password: a.password, isUtf8: '1' }).toString(),
          })
        : await request(`${url}/EWS/Exchange.asmx`, {
            dispatcher: agentFor(address),
            headers: { host: HOST, authorization: `Basic ${Buffer.from(`${a.user}:${a.password}`).toString('base64')}` },
          });
      await res.body.dump();
      return { status: res.statusCode, casgate: res.headers['x-casgate-error'] !== undefined };
    };

    // alice logs on at home first: that address is familiar from now on (protection on).
    const legit = { requests: 0, errors: 0 };
    const alice = { user: 'alice', password: 'Passw0rd', owa: false };
    if ((await send(alice, LEGIT_ADDRESS)).status !== 200) throw new Error('alice could not log on before the spray');
    let spraying = true;
    const legitLoop = (async () => {
      while (spraying) {
        legit.requests++;
        try {
          if ((await send(alice, LEGIT_ADDRESS)).status !== 200) legit.errors++;
        } catch {
          legit.errors++;
        }
        await sleep(50);
      }
    })();

    const realUsers = loadDirectoryFile().users.map((u) => u.name);
    const attempts = plan(o, realUsers);
    const reached = new Map<string, number>();
    let refused = 0;
    let next = 0;
    const cpu0 = cpuSeconds(gateway.pid!);
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: o.concurrency }, async () => {
        while (next < attempts.length) {
          const a = attempts[next++]!;
          const r = await send(a, a.address).catch(() => ({ status: 0, casgate: false }));
          if (r.casgate) refused++;
          else if (r.status !== 0) reached.set(a.user, (reached.get(a.user) ?? 0) + 1);
        }
      }),
    );
    const durationS = (performance.now() - t0) / 1000;
    const cpuMs = (cpuSeconds(gateway.pid!) - cpu0) * 1000;
    spraying = false;
    await legitLoop;

    let cpuUsPerRefused: number | undefined;
    if (protection === 'on') {
      // A burst every attempt of which is refused: names casgate locked, from an address it locked.
      const burst = attempts.filter((a) => a.user !== 'alice').slice(0, 2_000);
      const c0 = cpuSeconds(gateway.pid!);
      let refusedBurst = 0;
      let i = 0;
      await Promise.all(
        Array.from({ length: o.concurrency }, async () => {
          while (i < burst.length) {
            const a = burst[i++]!;
            if ((await send(a, a.address)).casgate) refusedBurst++;
          }
        }),
      );
      if (refusedBurst > 0) cpuUsPerRefused = ((cpuSeconds(gateway.pid!) - c0) * 1e6) / burst.length;
      log(`on: all-refused burst ${refusedBurst}/${burst.length} refused`);
    }
    const stats = (await (await fetch(`http://127.0.0.1:${mock.controlPort}/__mock/stats`)).json()) as { directory: { locked: string[]; lockouts: number } };
    const perUser = [...new Set(attempts.map((a) => a.user))].map((u) => reached.get(u) ?? 0);
    const reachedCas = perUser.reduce((s, x) => s + x, 0);
    return {
      protection,
      attempts: attempts.length,
      reachedCas,
      refusedByCasgate: refused,
      maxPerUser: Math.max(...perUser),
      meanPerUser: reachedCas / perUser.length,
      usersOverThreshold: perUser.filter((x) => x >= THRESHOLD).length,
      accountsLocked: stats.directory.locked,
      legitRequests: legit.requests,
      legitErrors: legit.errors,
      casgateCpuMs: cpuMs,
      cpuUsPerAttempt: (cpuMs * 1000) / attempts.length,
      ...(cpuUsPerRefused !== undefined ? { cpuUsPerRefused } : {}),
      durationS,
    };
  } finally {
    await Promise.all([...agents.values()].map((a) => a.close().catch(() => undefined)));
    gateway?.kill('SIGTERM');
    await mock.kill();
  }
}

const OPTIONS = {
  users: { type: 'string' },
  passwords: { type: 'string' },
  addresses: { type: 'string' },
  concurrency: { type: 'string' },
  'owa-share': { type: 'string' },
  only: { type: 'string' },
  out: { type: 'string' },
  results: { type: 'string' },
} as const;

/** A bad option: `casgate bench spray: ...` and exit status 2 (../args.ts), as for the other bench verbs. */
export const main = verbMain('spray', USAGE, OPTIONS, run);

async function run(values: VerbValues<typeof OPTIONS>): Promise<number> {
  const int = (v: string | undefined, flag: string, d: number, max: number): number => {
    const x = v === undefined ? d : Number(v);
    if (!Number.isInteger(x) || x < 1 || x > max) throw new UsageError(`${flag}: expected a whole number from 1 to ${max}`);
    return x;
  };
  const o: Options = {
    users: int(values.users, '--users', 300, 1_000_000),
    passwords: int(values.passwords, '--passwords', 12, 1000),
    addresses: int(values.addresses, '--addresses', 200, 60_000),
    concurrency: int(values.concurrency, '--concurrency', 16, 1000),
    owaShare: values['owa-share'] === undefined ? 0.3 : Number(values['owa-share']),
  };
  if (!(o.owaShare >= 0 && o.owaShare <= 1)) throw new Error('--owa-share: expected a number from 0 to 1');
  if (values.only !== undefined && values.only !== 'off' && values.only !== 'on') throw new Error('--only: off or on');
  const out = values.out !== undefined ? path.resolve(values.out) : path.join(ROOT, 'bench', 'out', `spray-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  mkdirSync(out, { recursive: true });
  const ca = issueCertificate({ commonName: 'casgate bench CA', isCa: true });
  const leaf = issueCertificate({ commonName: HOST, dnsNames: [HOST], issuer: ca });
  const certFiles = { cert: path.join(out, 'mail.crt'), key: path.join(out, 'mail.key'), ca: path.join(out, 'ca.crt') };
  writeFileSync(certFiles.cert, leaf.certPem + ca.certPem);
  writeFileSync(certFiles.key, leaf.keyPem);
  writeFileSync(certFiles.ca, ca.certPem);

  const loadAverage = os.loadavg()[0];
  const rounds: SprayRound[] = [];
  for (const protection of ['off', 'on'] as const) {
    if (values.only && values.only !== protection) continue;
    log(`round: protection ${protection}`);
    const r = await runRound(o, protection, out, certFiles);
    log(`${protection}: ${r.reachedCas} of ${r.attempts} reached the CAS, max ${r.maxPerUser} per name, legit ${r.legitErrors}/${r.legitRequests} failed`);
    rounds.push(r);
  }
  const run: SprayRun = {
    date: new Date().toISOString().slice(0, 10),
    settings: {
      users: o.users,
      realUsers: Math.min(o.users, loadDirectoryFile().users.length),
      passwords: o.passwords,
      addresses: o.addresses,
      concurrency: o.concurrency,
      threshold: THRESHOLD,
      owaShare: o.owaShare,
      limits: 'defaults: 5 failures per user from unfamiliar addresses, 20 failures or 10 failing names per address, in 10 min',
    },
    rounds,
    loadAverage,
    cpus: os.cpus().length,
  };
  const section = renderSpray(run);
  writeFileSync(path.join(out, 'summary.md'), section);
  writeFileSync(path.join(out, 'result.json'), JSON.stringify(run, null, 2));
  if (values.results) updateResultsFile(values.results, (previous) => replaceSpraySection(previous, section));
  process.stdout.write(section);
  return 0;
}
