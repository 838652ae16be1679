#!/usr/bin/env node
// `node bench/dist/bench/bin.js <peers|pings> ...`: the developers' harnesses, which are not part of the shipped CLI
// (the root's `npm run bench:peers` and `npm run bench:pings` build and call this). The user-facing verbs stay in
// casgate itself: `casgate bench load|failover|ha|spray|workers`.
const verbs: Record<string, () => Promise<{ main(argv: string[]): Promise<number> }>> = {
  peers: () => import('./peers/main.js'),
  pings: () => import('./pings/main.js'),
  pair: () => import('./peers/pair.js'),
};

const [verb, ...rest] = process.argv.slice(2);
const load = verb ? verbs[verb] : undefined;
if (!load) {
  process.stderr.write(`usage: node bench/dist/bench/bin.js <${Object.keys(verbs).join('|')}> [options]\n`);
  process.exitCode = 2;
} else {
  process.exitCode = await (await load()).main(rest);
}
