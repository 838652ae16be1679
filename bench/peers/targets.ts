// The targets of a peers run. Each serves the same two URLs over TLS (RSA and ECDSA listeners), forwarding over
// HTTP/1.1 keep-alive to the one backend on 127.0.0.1:18080 and adding X-Forwarded-For; "direct" is the backend itself.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fillConfig } from './setup.js';
import { DEFAULT_WORKER_FLAGS } from '../../src/config/worker-flags.js';
import { startPinned, stop, waitForPorts, type Started } from '../../src/bench/procs.js';

export const PROXY_CPU = 0;

export interface Running {
  /** Root PIDs whose process trees are measured (CPU, RSS). */
  pids: number[];
  stop(): Promise<void>;
}

export interface Target {
  name: string;
  rsaPort: number;
  ecdsaPort: number;
  /** How it is run, for RESULTS.md. */
  describe: string;
  start(): Promise<Running>;
}

export interface Context {
  root: string;
  out: string;
  peersDir: string;
  backend: Started;
  /** Another casgate checkout (its dist/ built) to run beside this one as `casgate-before` (what a change bought). */
  before?: { root: string; flags: string[] };
  /** casgate's process with the reference's per-request work in its engine (bare-build.ts), as `casgate-bare`. */
  bareRoot?: string;
}

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** Waits until each process listens on its ports; stops them all if one does not. */
async function running(list: [Started, number[]][]): Promise<Running> {
  const procs = list.map(([p]) => p);
  try {
    for (const [p, ports] of list) await waitForPorts(p, ports, 10_000);
  } catch (err) {
    for (const p of procs) await stop(p);
    throw err;
  }
  return { pids: procs.map((p) => p.pid), stop: async () => void (await Promise.all(procs.map((p) => stop(p)))) };
}

export function targets(ctx: Context): Target[] {
  const logs = path.join(ctx.out, 'logs');
  /** A Node proxy script beside this file, taking `<backend> <rsa port> <ecdsa port> <out dir>`. */
  const nodeProxy = (name: string, script: string, rsaPort: number, ecdsaPort: number, describe: string): Target => ({
    name,
    rsaPort,
    ecdsaPort,
    describe,
    start: async () => {
      const p = startPinned(
        name,
        PROXY_CPU,
        process.execPath,
        [path.join(HERE, script), 'http://127.0.0.1:18080', String(rsaPort), String(ecdsaPort), ctx.out],
        path.join(logs, `${name}.log`),
      );
      return running([[p, [rsaPort, ecdsaPort]]]);
    },
  });
  /** casgate from `root`, one process per certificate (RSA on `port`, ECDSA on port + 1), each pinned to the proxy CPU. */
  const casgate = (name: string, root: string, flags: string[], port: number, admin: number, describe: string): Target => ({
    name,
    rsaPort: port,
    ecdsaPort: port + 1,
    describe,
    start: async () => {
      const cli = path.join(root, 'dist', 'cli.js');
      if (!existsSync(cli)) throw new Error(`casgate not built (no ${cli})`);
      const procs = (['rsa', 'ecdsa'] as const).map((cert, i) => {
        const config = fillConfig(ctx.peersDir, ctx.out, 'casgate.yaml', `${name}-${cert}.yaml`, {
          PORT: String(port + i),
          ADMIN: String(admin + i * 10),
          CERT: cert,
        });
        return startPinned(`${name}-${cert}`, PROXY_CPU, process.execPath, [...flags, cli, 'run', '--config', config], path.join(logs, `${name}-${cert}.log`));
      });
      try {
        return await running([
          [procs[0]!, [port]],
          [procs[1]!, [port + 1]],
        ]);
      } catch (err) {
        throw new Error(`casgate not built or not runnable yet: ${err instanceof Error ? err.message : String(err)}`);
      }
    },
  });
  return [
    {
      name: 'direct',
      rsaPort: 18081,
      ecdsaPort: 18082,
      describe: 'the backend itself over TLS (on CPU 1, with the load generator)',
      start: async () => ({ pids: [ctx.backend.pid], stop: async () => undefined }),
    },
    casgate('casgate', ctx.root, [...DEFAULT_WORKER_FLAGS], 18743, 19090, `\`node ${DEFAULT_WORKER_FLAGS.join(' ')} dist/cli.js run --config bench/out/casgate-{rsa,ecdsa}.yaml\`, one process per certificate, started with the flags casgate gives its workers (\`workerFlags\` default; \`workers: 1\` runs with node's own)`),
    ...(ctx.before
      ? [casgate('casgate-before', ctx.before.root, ctx.before.flags, 18753, 19092, `the build in ${ctx.before.root}, started the same way${ctx.before.flags.length ? ` with ${ctx.before.flags.join(' ')}` : ' with node\'s default flags'}`)]
      : []),
    ...(ctx.bareRoot
      ? [casgate('casgate-bare', ctx.bareRoot, [...DEFAULT_WORKER_FLAGS], 18763, 19094, `casgate's process with its engine's per-request work replaced by the undici reference's (bench/peers/bare-build.ts), started as casgate is`)]
      : []),
    {
      name: 'nginx',
      rsaPort: 18443,
      ecdsaPort: 18444,
      describe: '`nginx -c bench/out/nginx-proxy.conf` (1 worker)',
      start: async () => {
        const conf = fillConfig(ctx.peersDir, ctx.out, 'nginx-proxy.conf', 'nginx-proxy.conf', {});
        const p = startPinned('nginx', PROXY_CPU, 'nginx', ['-c', conf, '-p', ctx.out], path.join(logs, 'nginx-proxy.log'));
        return running([[p, [18443, 18444]]]);
      },
    },
    {
      name: 'haproxy',
      rsaPort: 18543,
      ecdsaPort: 18544,
      describe: '`haproxy -db -f bench/out/haproxy.cfg` (1 thread)',
      start: async () => {
        const conf = fillConfig(ctx.peersDir, ctx.out, 'haproxy.cfg', 'haproxy.cfg', {});
        const p = startPinned('haproxy', PROXY_CPU, 'haproxy', ['-db', '-f', conf], path.join(logs, 'haproxy.log'));
        return running([[p, [18543, 18544]]]);
      },
    },
    nodeProxy(
      'http-proxy',
      'http-proxy-server.js',
      18643,
      18644,
      '`node bench/dist/bench/peers/http-proxy-server.js` (http-proxy 1.18 behind node:https, keep-alive agent, xfwd)',
    ),
    nodeProxy(
      'undici',
      'undici-proxy-server.js',
      18843,
      18844,
      "`node bench/dist/bench/peers/undici-proxy-server.js` (the reference for casgate's engine: node:https and an undici Pool, no routing, " +
        'metrics or access log)',
    ),
  ];
}
