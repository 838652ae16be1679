// Which client a request comes from. At the edge that is the TCP peer. Behind proxies listed in
// listen.trustForwardedFrom (a load balancer in front of casgate), every request arrives from a proxy, and the client is
// the address those proxies name in X-Forwarded-For: walking the list from the right (the nearest hop first), an
// address reported by a trusted proxy is believed, and the first address that is not itself a trusted proxy is the
// client, as nginx's realip module does with real_ip_recursive on. What a client wrote further left is never reached:
// its own proxy appended the address it really came from after it.
//
// This address is the one route allow lists, password-spray limits, source-ip balancing and the access log see; the
// X-Forwarded-For sent to the CAS still appends the TCP peer (headers.ts), since the chain names each hop once.
import { isIPv4, isIPv6 } from 'node:net';
import { unmappedIp } from './address-check.js';

/** Longest X-Forwarded-For value walked; past it (hostile or broken), the peer is the client. */
const MAX_FORWARDED_LENGTH = 4_096;

/**
 * The client of a request whose TCP peer is `peer`, given its X-Forwarded-For (one value, as Node joins repeated lines
 * with `, `, or the lines apart) and which addresses are trusted proxies. An entry that is not an IP address (with an
 * optional port, as some load balancers write it) stops the walk at the trusted hop that reported it: the client is
 * then that proxy, never a value nobody vouched for.
 */
export function forwardedClient(peer: string, forwardedFor: string | readonly string[] | undefined, isTrusted: (ip: string) => boolean): string {
  if (typeof forwardedFor !== 'string') forwardedFor = forwardedFor?.length ? forwardedFor.join(', ') : undefined;
  if (forwardedFor === undefined || !isTrusted(peer) || forwardedFor.length > MAX_FORWARDED_LENGTH) return peer;
  let client = peer;
  let end = forwardedFor.length;
  while (end > 0 && isTrusted(client)) {
    const comma = forwardedFor.lastIndexOf(',', end - 1);
    const address = entryAddress(forwardedFor.slice(comma + 1, end).trim());
    if (address === undefined) break;
    client = address;
    end = comma < 0 ? 0 : comma;
  }
  return client;
}

/** `192.0.2.7`, `192.0.2.7:5123`, `2001:db8::7`, `[2001:db8::7]` or `[2001:db8::7]:5123`, as casgate names it; else undefined. */
export function entryAddress(entry: string): string | undefined {
  if (entry.startsWith('[')) {
    const close = entry.indexOf(']');
    const inside = entry.slice(1, close);
    const rest = entry.slice(close + 1);
    return close > 0 && isIPv6(inside) && (rest === '' || isPort(rest.slice(1), rest)) ? unmappedIp(inside.toLowerCase()) : undefined;
  }
  if (isIPv6(entry)) return unmappedIp(entry.toLowerCase());
  const colon = entry.indexOf(':');
  const host = colon < 0 ? entry : entry.slice(0, colon);
  if (!isIPv4(host)) return undefined;
  return colon < 0 || isPort(entry.slice(colon + 1), entry.slice(colon)) ? host : undefined;
}

/** `digits` is a port 1-65535 and `withColon` is it behind a single colon. */
function isPort(digits: string, withColon: string): boolean {
  return withColon.startsWith(':') && /^[0-9]{1,5}$/.test(digits) && Number(digits) >= 1 && Number(digits) <= 65_535;
}
