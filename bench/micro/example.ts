// Example micro-benchmark over a trivial function: lower-casing a header name, with and without a cache of the
// common names. Copy this file for route match, balancer pick or header rewrite.
//   node --expose-gc bench/dist/bench/micro/example.js
import { runMicro } from './run.js';

const NAMES = ['Content-Type', 'X-RequestType', 'Authorization', 'X-Forwarded-For', 'Cookie', 'MS-ASProtocolVersion'];
const known = new Map(NAMES.map((n) => [n, n.toLowerCase()]));
let i = 0;

runMicro('example: header name to lower case', [
  { name: 'toLowerCase()', fn: () => NAMES[i++ % NAMES.length]!.toLowerCase() },
  { name: 'Map lookup, then toLowerCase()', fn: () => {
      const n = NAMES[i++ % NAMES.length]!;
      return known.get(n) ?? n.toLowerCase();
    } },
]);
