// Expands the validated config into what the gateway builds: routes and the pools they use.
// The Exchange preset derives one pool per virtual directory from `exchange.pool` (Microsoft's guidance:
// each protocol has its own health state, so a server whose EWS is down keeps serving OWA).
import { BlockList, isIP } from 'node:net';
import { matchPathOf, type Route } from './route.js';
import { EXCHANGE_SERVICE_SPECS, type ExchangeService } from './exchange.js';
import type { Config, PoolConfig } from './schema.js';

export interface PoolPlan {
  /** Runtime name: a configured pool name, or `<pool>/<service>` for a pool derived by the Exchange preset. */
  name: string;
  config: PoolConfig;
  mode: 'offload' | 'bridge';
  /** Active probe path; undefined = not probed (shares another pool's state via healthFrom, or always up). */
  healthPath?: string;
  /** Runtime name of the pool whose health state this pool reuses. */
  healthFrom?: string;
  /** Host header sent with probes (the first published Exchange host name, as Exchange's own monitoring does). */
  probeHost?: string;
  service?: ExchangeService;
}

export interface Plan {
  routes: Route[];
  pools: PoolPlan[];
  /** listen.trustForwardedFrom: the proxies whose X-Forwarded-For names the client (proxy/forwarded-client.ts). */
  trustedProxies: BlockList;
}

export function exchangePoolName(pool: string, service: ExchangeService): string {
  return `${pool}/${service}`;
}

export function blockListOf(networks: readonly string[]): BlockList {
  const list = new BlockList();
  for (const net of networks) {
    const [addr, bits] = net.split('/') as [string, string | undefined];
    const family = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(addr, family);
    else list.addSubnet(addr, Number(bits), family);
  }
  return list;
}

export function buildPlan(config: Config): Plan {
  const routes: Route[] = [];
  const pools = new Map<string, PoolPlan>();
  const ex = config.exchange;

  if (ex) {
    const base = config.pools[ex.pool]!;
    const adminNetworks = blockListOf(ex.adminNetworks);
    for (const service of ex.services) {
      const spec = EXCHANGE_SERVICE_SPECS[service];
      const name = exchangePoolName(ex.pool, service);
      const healthFrom = spec.healthFrom && ex.services.includes(spec.healthFrom) ? exchangePoolName(ex.pool, spec.healthFrom) : undefined;
      pools.set(name, {
        name,
        config: base,
        mode: spec.bridgeOnly ? 'bridge' : ex.mode === 'bridge' ? 'bridge' : base.mode,
        healthPath: base.health.path ?? spec.healthPath,
        healthFrom,
        probeHost: ex.hostnames[0],
        service,
      });
      const override = ex.timeouts[service];
      routes.push({
        name: `exchange/${service}`,
        path: spec.path,
        matchPath: matchPathOf(spec.path),
        pool: name,
        firstByteTimeoutMs: override?.firstByte ?? spec.firstByteTimeoutMs,
        idleTimeoutMs: override?.idle ?? spec.idleTimeoutMs,
        allow: spec.internalOnly ? adminNetworks : undefined,
        service,
        rpc: service === 'rpc',
      });
    }
  }

  config.routes.forEach((r, i) => {
    const poolConfig = config.pools[r.pool]!;
    if (!pools.has(r.pool)) {
      pools.set(r.pool, {
        name: r.pool,
        config: poolConfig,
        mode: poolConfig.mode,
        healthPath: poolConfig.health.path,
        healthFrom: poolConfig.health.from,
      });
    }
    const matchPath = matchPathOf(r.path);
    // A route for /rpc carries Outlook Anywhere unless it says otherwise (issue 15, item 8: it used to answer 404).
    const rpc = r.rpc ?? (matchPath === '/rpc' || matchPath.startsWith('/rpc/'));
    const rpcSpec = EXCHANGE_SERVICE_SPECS.rpc;
    // Custom routes take OWA's limits (the one table of defaults, exchange.ts), long-lived services set their own.
    const owaSpec = EXCHANGE_SERVICE_SPECS.owa;
    routes.push({
      name: r.name ?? `routes[${i}]`,
      hosts: r.host === undefined ? undefined : Array.isArray(r.host) ? r.host : [r.host],
      path: r.path,
      matchPath,
      pool: r.pool,
      // Custom routes default to OWA's limits; RPC channels live for hours: an rpc route defaults to the preset's rpc.
      firstByteTimeoutMs: r.timeouts.firstByte ?? (rpc ? rpcSpec : owaSpec).firstByteTimeoutMs,
      idleTimeoutMs: r.timeouts.idle ?? (rpc ? rpcSpec : owaSpec).idleTimeoutMs,
      allow: r.allow ? blockListOf(r.allow) : undefined,
      rpc,
    });
  });

  // A pool may share the state of a pool no route uses; it still has to exist to be probed.
  for (const plan of [...pools.values()]) {
    if (plan.healthFrom && !pools.has(plan.healthFrom) && config.pools[plan.healthFrom]) {
      const cfg = config.pools[plan.healthFrom]!;
      pools.set(plan.healthFrom, { name: plan.healthFrom, config: cfg, mode: cfg.mode, healthPath: cfg.health.path });
    }
  }
  return { routes, pools: [...pools.values()], trustedProxies: blockListOf(config.listen.trustForwardedFrom) };
}

/** Every published host name: Exchange host names and the hosts of custom routes (wildcards kept). */
export function publishedHostnames(config: Config): string[] {
  const names = new Set(config.exchange?.hostnames ?? []);
  for (const r of config.routes) for (const h of r.host === undefined ? [] : Array.isArray(r.host) ? r.host : [r.host]) names.add(h);
  return [...names];
}
