#!/usr/bin/env node
// `node dist/bench/bin.js <load|peers|failover|pings|ha> ...`: the bench verbs without the rest of the CLI. bench/peers starts its load
// generator through this entry so that it does not depend on how src/cli.ts is wired; `casgate bench <verb>` calls
// the same main() functions.
const verbs: Record<string, () => Promise<{ main(argv: string[]): Promise<number> }>> = {
  load: () => import('./load/main.js'),
  peers: () => import('./peers/main.js'),
  failover: () => import('./failover/main.js'),
  pings: () => import('./pings/main.js'),
  ha: () => import('./ha/main.js'),
};

const [verb, ...rest] = process.argv.slice(2);
const load = verb ? verbs[verb] : undefined;
if (!load) {
  process.stderr.write(`usage: node dist/bench/bin.js <${Object.keys(verbs).join('|')}> [options]\n`);
  process.exitCode = 2;
} else {
  process.exitCode = await (await load()).main(rest);
}
