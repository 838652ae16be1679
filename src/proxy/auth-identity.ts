// Who a request authenticates as, from its Authorization header alone: Basic (user part of the decoded credentials;
// the password is never kept: only the bytes before the colon are turned into a string), NTLM, and Negotiate
// wrapping NTLM (SPNEGO). NTLM's AUTHENTICATE (type 3) message names the domain and user in clear (MS-NLMP 2.2.1.3);
// NEGOTIATE (type 1) names nobody and a Kerberos ticket has no name in clear, so both give undefined. The LM/NT
// responses (hashes) are never read.
//
// Everything here is hostile input: base64 is checked before decoding, every length and offset is bounded by the
// message, names are limited to what Active Directory allows and refused when they hold control characters.

export type AuthScheme = 'basic' | 'ntlm' | 'negotiate';

export interface AuthIdentity {
  /** sAMAccountName or UPN as the client sent it. */
  user: string;
  /** NetBIOS or DNS domain when the client named one (`CONTOSO\alice`, or the NTLM message's domain field). */
  domain?: string;
  scheme: AuthScheme;
}

/** Largest token decoded (Kerberos tickets reach 48 KB; an NTLM type 3 with a long target info stays under 4 KB). */
const MAX_TOKEN_CHARS = 65_536;
/** AD: sAMAccountName ≤ 20, UPN ≤ 1024 in practice limited to 256; NetBIOS domain ≤ 15, DNS domain ≤ 255. */
const MAX_USER = 256;
const MAX_DOMAIN = 255;

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const CONTROL = /[\u0000-\u001f\u007f]/;
const NTLM_SIGNATURE = Buffer.from('NTLMSSP\0', 'latin1');
const NTLM_UNICODE = 0x00000001;

function decodeBase64(token: string): Buffer | undefined {
  if (token.length === 0 || token.length > MAX_TOKEN_CHARS || token.length % 4 !== 0 || !BASE64.test(token)) return undefined;
  return Buffer.from(token, 'base64');
}

function cleanName(text: string, max: number): string | undefined {
  if (text.length === 0 || text.length > max || CONTROL.test(text)) return undefined;
  return text;
}

/** `DOMAIN\user` splits; `user@domain` (UPN) stays whole, as Exchange logs it. */
function splitDown(name: string, scheme: AuthScheme): AuthIdentity | undefined {
  const slash = name.indexOf('\\');
  if (slash === -1) {
    const user = cleanName(name, MAX_USER);
    return user ? { user, scheme } : undefined;
  }
  const domain = cleanName(name.slice(0, slash), MAX_DOMAIN);
  const user = cleanName(name.slice(slash + 1), MAX_USER);
  return domain && user && !user.includes('\\') ? { user, domain, scheme } : undefined;
}

function basicIdentity(token: string): AuthIdentity | undefined {
  const raw = decodeBase64(token);
  if (!raw) return undefined;
  const colon = raw.indexOf(0x3a);
  // Only the user part becomes a string; the buffer holding the password is overwritten at once.
  const name = colon === -1 ? undefined : raw.toString('utf8', 0, colon);
  raw.fill(0);
  return name === undefined ? undefined : splitDown(name, 'basic');
}

/** The identity in an NTLM AUTHENTICATE message; undefined for any other message or a malformed one. */
export function ntlmAuthenticateIdentity(msg: Buffer, scheme: 'ntlm' | 'negotiate'): AuthIdentity | undefined {
  // Fixed part: signature, type, six security buffers (LM, NT, domain, user, workstation, session key), flags.
  if (msg.length < 64 || msg.length > MAX_TOKEN_CHARS || !msg.subarray(0, 8).equals(NTLM_SIGNATURE) || msg.readUInt32LE(8) !== 3) return undefined;
  const flags = msg.readUInt32LE(60);
  const unicode = (flags & NTLM_UNICODE) !== 0;
  const field = (at: number, maxChars: number): string | undefined | null => {
    const len = msg.readUInt16LE(at);
    const offset = msg.readUInt32LE(at + 4);
    if (len === 0) return null;
    if (offset < 64 || offset + len > msg.length || (unicode && len % 2 !== 0) || len > maxChars * (unicode ? 2 : 1)) return undefined;
    return msg.toString(unicode ? 'utf16le' : 'latin1', offset, offset + len);
  };
  const domain = field(28, MAX_DOMAIN);
  const user = field(36, MAX_USER);
  if (domain === undefined || user === undefined || user === null) return undefined; // anonymous (null session) names nobody
  const cleanUser = cleanName(user, MAX_USER);
  if (!cleanUser) return undefined;
  if (domain === null) return { user: cleanUser, scheme };
  const cleanDomain = cleanName(domain, MAX_DOMAIN);
  return cleanDomain ? { user: cleanUser, domain: cleanDomain, scheme } : undefined;
}

/** One DER TLV at `at`: tag, and the value's bounds; undefined when lengths overrun `end`. */
function tlv(buf: Buffer, at: number, end: number): { tag: number; start: number; end: number } | undefined {
  if (at + 2 > end) return undefined;
  const tag = buf[at]!;
  let len = buf[at + 1]!;
  let start = at + 2;
  if (len & 0x80) {
    const bytes = len & 0x7f;
    if (bytes === 0 || bytes > 3 || start + bytes > end) return undefined;
    len = 0;
    for (let i = 0; i < bytes; i++) len = len * 256 + buf[start + i]!;
    start += bytes;
  }
  return start + len > end ? undefined : { tag, start, end: start + len };
}

/** The value of context tag [n] inside a SEQUENCE spanning start..end. */
function contextField(buf: Buffer, seq: { start: number; end: number }, n: number): { start: number; end: number } | undefined {
  let at = seq.start;
  for (let guard = 0; at < seq.end && guard < 8; guard++) {
    const f = tlv(buf, at, seq.end);
    if (!f) return undefined;
    if (f.tag === (0xa0 | n)) return f;
    at = f.end;
  }
  return undefined;
}

/** The mechanism token inside a SPNEGO NegTokenInit ([APPLICATION 0]) or NegTokenResp ([1]); raw NTLM passes through. */
function unwrapSpnego(buf: Buffer): Buffer | undefined {
  if (buf.subarray(0, 8).equals(NTLM_SIGNATURE)) return buf;
  const outer = tlv(buf, 0, buf.length);
  if (!outer) return undefined;
  let seq: { tag: number; start: number; end: number } | undefined;
  let tokenTag: number;
  if (outer.tag === 0x60) {
    // InitialContextToken: OID 1.3.6.1.5.5.2, then [0] NegTokenInit SEQUENCE; mechToken is [2].
    const oid = tlv(buf, outer.start, outer.end);
    if (!oid || oid.tag !== 0x06) return undefined;
    const init = tlv(buf, oid.end, outer.end);
    if (!init || init.tag !== 0xa0) return undefined;
    seq = tlv(buf, init.start, init.end);
    tokenTag = 2;
  } else if (outer.tag === 0xa1) {
    // NegTokenResp SEQUENCE; responseToken is [2].
    seq = tlv(buf, outer.start, outer.end);
    tokenTag = 2;
  } else return undefined;
  if (!seq || seq.tag !== 0x30) return undefined;
  const field = contextField(buf, seq, tokenTag);
  if (!field) return undefined;
  const octets = tlv(buf, field.start, field.end);
  if (!octets || octets.tag !== 0x04) return undefined;
  return buf.subarray(octets.start, octets.end);
}

/**
 * The user an `Authorization` value names, or undefined (no credentials, NTLM type 1, Kerberos, malformed).
 * Never returns or keeps a password or a hash.
 */
export function identityFromAuthorization(value: string | undefined): AuthIdentity | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  const space = text.indexOf(' ');
  if (space <= 0) return undefined;
  const scheme = text.slice(0, space).toLowerCase();
  const token = text.slice(space + 1).trim();
  if (scheme === 'basic') return basicIdentity(token);
  if (scheme !== 'ntlm' && scheme !== 'negotiate') return undefined;
  const raw = decodeBase64(token);
  if (!raw) return undefined;
  const msg = scheme === 'ntlm' ? raw : unwrapSpnego(raw);
  return msg ? ntlmAuthenticateIdentity(msg, scheme) : undefined;
}

/** The form access logs and metrics use: `DOMAIN\user` or `user`. */
export function formatIdentity(id: AuthIdentity): string {
  return id.domain ? `${id.domain}\\${id.user}` : id.user;
}
