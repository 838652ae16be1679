// Client addresses as casgate names them (IPv4-mapped addresses unmapped), and checks against a BlockList (trusted
// proxies, a route's allow list). BlockList#check builds a SocketAddress for every call, which cost about 2 % of a
// small GET's CPU in the bench/peers profile; the answer per (list, address) is kept instead. Lists are never changed
// after they are built (a reload builds new ones).
import type { BlockList } from 'node:net';

const MAX_ADDRESSES_PER_LIST = 10_000;

/** An address as Node reports it, with `::ffff:` stripped from IPv4-mapped addresses ('' when unknown). */
export function unmappedIp(address: string | undefined): string {
  const ip = address ?? '';
  return ip.startsWith('::ffff:') ? ip.slice(7) : ip;
}
const answers = new WeakMap<BlockList, Map<string, boolean>>();

/** Whether `ip` (as Node reports it, `::ffff:` stripped) is covered by `list`. */
export function addressIn(list: BlockList, ip: string): boolean {
  let known = answers.get(list);
  if (!known) {
    known = new Map();
    answers.set(list, known);
  }
  let answer = known.get(ip);
  if (answer === undefined) {
    answer = list.rules.length > 0 && list.check(ip, ip.includes(':') ? 'ipv6' : 'ipv4');
    // A flood of distinct addresses must not grow the cache without bound.
    if (known.size >= MAX_ADDRESSES_PER_LIST) known.clear();
    known.set(ip, answer);
  }
  return answer;
}
