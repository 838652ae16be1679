// The network of an HA run, built with `ip netns` as deploy/keepalived/ would be deployed on two hosts: a switch
// namespace with a Linux bridge, and one namespace per host, each joined to the bridge by a veth pair whose inside end
// is `eth0`: lb1 and lb2 (casgate + keepalived), cas (the mock CAS servers), cl (the clients). Names carry a prefix
// and this process's pid, so that a run that crashed is found and removed by the next one. Addresses are in
// 10.98.0.0/24 and exist only inside these namespaces.
import { execFileSync, spawnSync } from 'node:child_process';

export const PREFIX = 'cgha';
export const SUBNET = '10.98.0';
export const HOSTS = { lb1: `${SUBNET}.1`, lb2: `${SUBNET}.2`, cas: `${SUBNET}.21`, cl: `${SUBNET}.100` } as const;
export const VIP = `${SUBNET}.50`;
/** The second address of the active/active variant. */
export const VIP2 = `${SUBNET}.51`;
export type Host = keyof typeof HOSTS;

export function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Why this machine cannot run the pair, or undefined when it can. */
export function missingPrerequisite(): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'building network namespaces needs root (run as root, or in CI, which runs as root)';
  if (spawnSync('ip', ['netns', 'list']).status !== 0) return '`ip netns` is not available (install iproute2)';
  for (const tool of ['keepalived', 'curl']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `${tool} is not installed (apt-get install -y ${tool})`;
  }
  return undefined;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Kills what runs in a namespace (keepalived, casgate, mocks, clients) and deletes it. */
function removeNamespace(name: string): void {
  const pids = spawnSync('ip', ['netns', 'pids', name], { encoding: 'utf8' }).stdout.split(/\s+/).filter(Boolean).map(Number);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  spawnSync('ip', ['netns', 'del', name]);
}

/** Namespaces left by earlier runs whose process is gone (a crash, a kill -9 of the run itself). */
export function removeStale(): string[] {
  const removed: string[] = [];
  const names = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n').map((l) => l.split(' ')[0] ?? '');
  for (const name of names) {
    const m = new RegExp(`^${PREFIX}(\\d+)-`).exec(name);
    if (m && !alive(Number(m[1]))) {
      removeNamespace(name);
      removed.push(name);
    }
  }
  return removed;
}

export class Topology {
  readonly names: Record<Host | 'sw', string>;
  private built: string[] = [];

  constructor(readonly id = process.pid) {
    const ns = (h: string) => `${PREFIX}${id}-${h}`;
    this.names = { sw: ns('sw'), lb1: ns('lb1'), lb2: ns('lb2'), cas: ns('cas'), cl: ns('cl') };
  }

  build(): void {
    const sw = this.names.sw;
    this.add(sw);
    ip('-n', sw, 'link', 'add', 'br0', 'type', 'bridge');
    ip('-n', sw, 'link', 'set', 'br0', 'up');
    for (const host of Object.keys(HOSTS) as Host[]) {
      const ns = this.names[host];
      this.add(ns);
      ip('-n', sw, 'link', 'add', `v-${host}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
      ip('-n', sw, 'link', 'set', `v-${host}`, 'master', 'br0', 'up');
      ip('-n', ns, 'addr', 'add', `${HOSTS[host]}/24`, 'dev', 'eth0');
      ip('-n', ns, 'link', 'set', 'eth0', 'up');
      ip('-n', ns, 'link', 'set', 'lo', 'up');
    }
  }

  private add(name: string): void {
    ip('netns', 'add', name);
    this.built.push(name);
  }

  /** Does `host` hold the floating address now? */
  holdsVip(host: 'lb1' | 'lb2', vip = VIP): boolean {
    try {
      return ip('-n', this.names[host], '-4', '-o', 'addr', 'show', 'dev', 'eth0').includes(` ${vip}/`);
    } catch {
      return false;
    }
  }

  setLink(host: Host, up: boolean): void {
    ip('-n', this.names[host], 'link', 'set', 'eth0', up ? 'up' : 'down');
  }

  /** Kills everything left in the namespaces and deletes them; safe to call twice. */
  destroy(): void {
    for (const name of this.built.reverse()) removeNamespace(name);
    this.built = [];
  }
}
