// Checks between keys (a route naming a pool that does not exist, duplicate server names, ...). They run on the
// validated config from the schema's superRefine, and on the raw input when the schema found other problems, so that
// one `casgate check` names every problem at once (zod skips refinements once an object has issues). Hence the
// defensive reading: the input may be anything the YAML held.
export interface CrossReferenceProblem {
  path: PropertyKey[];
  message: string;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function crossReferenceProblems(input: unknown): CrossReferenceProblem[] {
  const problems: CrossReferenceProblem[] = [];
  if (!isObject(input)) return problems;
  const pools = isObject(input.pools) ? input.pools : {};
  const poolNames = new Set(Object.keys(pools));
  if (isObject(input.pools) && poolNames.size === 0) problems.push({ path: ['pools'], message: 'at least one pool is required' });
  const exchange = input.exchange;
  if (isObject(exchange) && typeof exchange.pool === 'string' && !poolNames.has(exchange.pool)) {
    problems.push({ path: ['exchange', 'pool'], message: `no pool named "${exchange.pool}" under pools` });
  }
  if (Array.isArray(input.routes)) {
    const routeNames = new Set<string>();
    input.routes.forEach((r: unknown, i) => {
      if (!isObject(r)) return;
      if (typeof r.pool === 'string' && !poolNames.has(r.pool)) {
        problems.push({ path: ['routes', i, 'pool'], message: `no pool named "${r.pool}" under pools` });
      }
      // Logs and metrics name routes: two of one name could not be told apart.
      if (typeof r.name === 'string') {
        if (routeNames.has(r.name)) problems.push({ path: ['routes', i, 'name'], message: `duplicate route name "${r.name}"` });
        routeNames.add(r.name);
      }
    });
  }
  for (const [name, p] of Object.entries(pools)) {
    if (!isObject(p)) continue;
    const seen = new Set<unknown>();
    if (Array.isArray(p.servers)) {
      p.servers.forEach((s: unknown, i) => {
        if (!isObject(s) || typeof s.name !== 'string') return;
        if (seen.has(s.name)) problems.push({ path: ['pools', name, 'servers', i, 'name'], message: `duplicate server name "${s.name}"` });
        seen.add(s.name);
      });
    }
    const health = isObject(p.health) ? p.health : {};
    if (typeof health.from === 'string' && !poolNames.has(health.from)) {
      problems.push({ path: ['pools', name, 'health', 'from'], message: `no pool named "${health.from}"` });
    } else if (typeof health.from === 'string') {
      // A chain of `from` that comes back to this pool would leave every pool in it unprobed, forever up.
      const fromOf = (pool: string): string | undefined => {
        const q = pools[pool];
        const h = isObject(q) && isObject(q.health) ? q.health : {};
        return typeof h.from === 'string' ? h.from : undefined;
      };
      const chain = [name];
      for (let next: string | undefined = health.from; next !== undefined; next = fromOf(next)) {
        if (next === name) {
          problems.push({ path: ['pools', name, 'health', 'from'], message: `health.from forms a cycle: ${[...chain, name].join(' -> ')}` });
          break;
        }
        if (chain.includes(next)) break; // a cycle further on, reported on its own pools
        chain.push(next);
      }
    }
    const tls = isObject(p.tls) ? p.tls : {};
    if (tls.insecure === true && (tls.ca || tls.fingerprint256)) {
      problems.push({ path: ['pools', name, 'tls', 'insecure'], message: 'insecure: true contradicts ca/fingerprint256; choose one' });
    }
  }
  return problems;
}
