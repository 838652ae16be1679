// NTLM message codec in the MS-NLMP layout (section 2.2.1): enough to run a real handshake with curl, browsers and
// Outlook, and to check an NTLMv2 response against the lab directory's password (section 3.3.2) so that a wrong
// password fails as it does against Active Directory.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { md4 } from './md4.js';

const SIGNATURE = Buffer.from('NTLMSSP\0', 'latin1');

export const NTLM_FLAGS = {
  UNICODE: 0x00000001,
  OEM: 0x00000002,
  REQUEST_TARGET: 0x00000004,
  NTLM: 0x00000200,
  ALWAYS_SIGN: 0x00008000,
  TARGET_TYPE_DOMAIN: 0x00010000,
  EXTENDED_SESSIONSECURITY: 0x00080000,
  TARGET_INFO: 0x00800000,
  VERSION: 0x02000000,
  N128: 0x20000000,
  KEY_EXCH: 0x40000000,
  N56: 0x80000000,
} as const;

export type NtlmMessage =
  | { type: 1; flags: number }
  | { type: 3; flags: number; domain: string; user: string; workstation: string; lmResponse: Buffer; ntResponse: Buffer }
  | { type: 2 | 'other' };

/** Locate an NTLM message in a token: raw NTLM, or wrapped in SPNEGO (Negotiate) where it sits after an ASN.1 prefix. */
export function extractNtlm(token: Buffer): Buffer | null {
  const at = token.indexOf(SIGNATURE);
  return at === -1 ? null : token.subarray(at);
}

/** Parse a NEGOTIATE (type 1) or AUTHENTICATE (type 3) message; null when it is not a well-formed NTLM message. */
export function parseNtlm(msg: Buffer): NtlmMessage | null {
  if (msg.length < 12 || !msg.subarray(0, 8).equals(SIGNATURE)) return null;
  const type = msg.readUInt32LE(8);
  if (type === 1) return { type: 1, flags: msg.length >= 16 ? msg.readUInt32LE(12) : 0 };
  if (type === 2) return { type: 2 };
  if (type !== 3) return { type: 'other' };
  // AUTHENTICATE_MESSAGE: security buffers (len u16, maxLen u16, offset u32) at 12 (LM), 20 (NT), 28 (domain),
  // 36 (user), 44 (workstation), 52 (session key); NegotiateFlags at 60.
  if (msg.length < 52) return null;
  const flags = msg.length >= 64 ? msg.readUInt32LE(60) : 0;
  const unicode = (flags & NTLM_FLAGS.UNICODE) !== 0;
  const field = (at: number): string | null => {
    const len = msg.readUInt16LE(at);
    const offset = msg.readUInt32LE(at + 4);
    if (len === 0) return '';
    if (offset + len > msg.length) return null;
    const bytes = msg.subarray(offset, offset + len);
    return unicode ? bytes.toString('utf16le') : bytes.toString('latin1');
  };
  const bytes = (at: number): Buffer | null => {
    const len = msg.readUInt16LE(at);
    const offset = msg.readUInt32LE(at + 4);
    return offset + len > msg.length ? null : msg.subarray(offset, offset + len);
  };
  const domain = field(28);
  const user = field(36);
  const workstation = field(44);
  const lmResponse = bytes(12);
  const ntResponse = bytes(20);
  if (domain === null || user === null || workstation === null || lmResponse === null || ntResponse === null) return null;
  return { type: 3, flags, domain, user, workstation, lmResponse, ntResponse };
}

export interface ChallengeTarget {
  /** NetBIOS domain, e.g. CONTOSO. */
  domain: string;
  /** NetBIOS computer name, e.g. CAS1. */
  computer: string;
  dnsDomain: string;
  dnsComputer: string;
}

export function newServerChallenge(): Buffer {
  return randomBytes(8);
}

/** Build a CHALLENGE_MESSAGE (type 2) answering a client's NEGOTIATE flags, with a TargetInfo list like Windows sends. */
export function buildChallenge(serverChallenge: Buffer, clientFlags: number, target: ChallengeTarget): Buffer {
  const F = NTLM_FLAGS;
  const unicode = (clientFlags & F.UNICODE) !== 0;
  const flags =
    ((unicode ? F.UNICODE : F.OEM) |
      F.REQUEST_TARGET |
      F.NTLM |
      F.ALWAYS_SIGN |
      F.TARGET_TYPE_DOMAIN |
      F.TARGET_INFO |
      F.VERSION |
      (clientFlags & (F.EXTENDED_SESSIONSECURITY | F.N128 | F.N56 | F.KEY_EXCH))) >>>
    0;
  const targetName = Buffer.from(target.domain, unicode ? 'utf16le' : 'latin1');
  const targetInfo = buildTargetInfo(target);
  const header = Buffer.alloc(56);
  SIGNATURE.copy(header, 0);
  header.writeUInt32LE(2, 8);
  header.writeUInt16LE(targetName.length, 12);
  header.writeUInt16LE(targetName.length, 14);
  header.writeUInt32LE(56, 16);
  header.writeUInt32LE(flags, 20);
  serverChallenge.copy(header, 24, 0, 8);
  // 32..39 reserved (zero)
  header.writeUInt16LE(targetInfo.length, 40);
  header.writeUInt16LE(targetInfo.length, 42);
  header.writeUInt32LE(56 + targetName.length, 44);
  // Version: Windows 6.1 build 7601, NTLM revision 15 — the shape, not a claim about the host.
  Buffer.from([6, 1, 0xb1, 0x1d, 0, 0, 0, 15]).copy(header, 48);
  return Buffer.concat([header, targetName, targetInfo]);
}

function buildTargetInfo(t: ChallengeTarget): Buffer {
  const pairs: Buffer[] = [];
  const add = (id: number, value: Buffer): void => {
    const head = Buffer.alloc(4);
    head.writeUInt16LE(id, 0);
    head.writeUInt16LE(value.length, 2);
    pairs.push(head, value);
  };
  add(2, Buffer.from(t.domain, 'utf16le')); // MsvAvNbDomainName
  add(1, Buffer.from(t.computer, 'utf16le')); // MsvAvNbComputerName
  add(4, Buffer.from(t.dnsDomain, 'utf16le')); // MsvAvDnsDomainName
  add(3, Buffer.from(t.dnsComputer, 'utf16le')); // MsvAvDnsComputerName
  const filetime = Buffer.alloc(8); // MsvAvTimestamp: 100 ns ticks since 1601
  filetime.writeBigUInt64LE((BigInt(Date.now()) + 11_644_473_600_000n) * 10_000n);
  add(7, filetime);
  add(0, Buffer.alloc(0)); // MsvAvEOL
  return Buffer.concat(pairs);
}

/** A NEGOTIATE_MESSAGE as a client sends it (for tests and the lab's own clients). */
export function buildNegotiate(flags = NTLM_FLAGS.UNICODE | NTLM_FLAGS.NTLM | NTLM_FLAGS.REQUEST_TARGET): Buffer {
  const msg = Buffer.alloc(32);
  SIGNATURE.copy(msg, 0);
  msg.writeUInt32LE(1, 8);
  msg.writeUInt32LE(flags >>> 0, 12);
  return msg;
}

const hmacMd5 = (key: Buffer, ...data: Buffer[]) => {
  const h = createHmac('md5', key);
  for (const d of data) h.update(d);
  return h.digest();
};

/** NTOWFv2 (MS-NLMP 3.3.2): HMAC-MD5(MD4(UTF-16LE(password)), UTF-16LE(UPPER(user) + domain)). */
export function ntowfV2(password: string, user: string, domain: string): Buffer {
  return hmacMd5(md4(Buffer.from(password, 'utf16le')), Buffer.from(user.toUpperCase() + domain, 'utf16le'));
}

/** The NTLMv2 NtChallengeResponse a client computes: NTProofStr ‖ temp (temp carries the client challenge and time). */
export function ntlmV2Response(password: string, user: string, domain: string, serverChallenge: Buffer, targetInfo: Buffer): Buffer {
  const temp = Buffer.alloc(28 + targetInfo.length + 4);
  temp[0] = 1;
  temp[1] = 1;
  temp.writeBigUInt64LE((BigInt(Date.now()) + 11_644_473_600_000n) * 10_000n, 8);
  randomBytes(8).copy(temp, 16);
  targetInfo.copy(temp, 28);
  const proof = hmacMd5(ntowfV2(password, user, domain), serverChallenge, temp);
  return Buffer.concat([proof, temp]);
}

/**
 * Checks an NTLMv2 NtChallengeResponse (what AD does for the CAS): recompute NTProofStr from the password and the
 * challenge this connection sent. NTLMv1 (24-byte) responses are refused, as LmCompatibilityLevel 5 does.
 */
export function verifyNtlmV2(password: string, msg: { user: string; domain: string; ntResponse: Buffer }, serverChallenge: Buffer): boolean {
  if (msg.ntResponse.length < 16 + 28) return false;
  const proof = msg.ntResponse.subarray(0, 16);
  const temp = msg.ntResponse.subarray(16);
  const expected = hmacMd5(ntowfV2(password, msg.user, msg.domain), serverChallenge, temp);
  return timingSafeEqual(proof, expected);
}

/** The TargetInfo (AV pairs) of a CHALLENGE_MESSAGE, which the client's NTLMv2 response must carry. */
export function targetInfoOf(challenge: Buffer): Buffer {
  if (challenge.length < 48) return Buffer.alloc(0);
  const len = challenge.readUInt16LE(40);
  const offset = challenge.readUInt32LE(44);
  return offset + len > challenge.length ? Buffer.alloc(0) : Buffer.from(challenge.subarray(offset, offset + len));
}

/**
 * An AUTHENTICATE_MESSAGE carrying domain/user/workstation in UTF-16LE (tests and lab clients). With `password` and
 * the server's `challenge` (the whole type 2 message) it carries a real NTLMv2 response; without, dummy responses
 * that a directory-checking server refuses.
 */
export function buildAuthenticate(domain: string, user: string, workstation = 'WS01', auth?: { password: string; challenge: Buffer }): Buffer {
  let lm: Buffer = Buffer.alloc(24);
  let nt: Buffer = Buffer.alloc(24);
  if (auth) {
    const serverChallenge = challengeOf(auth.challenge);
    if (!serverChallenge) throw new Error('buildAuthenticate: not a CHALLENGE_MESSAGE');
    nt = ntlmV2Response(auth.password, user, domain, serverChallenge, targetInfoOf(auth.challenge));
    const clientChallenge = nt.subarray(32, 40);
    lm = Buffer.concat([hmacMd5(ntowfV2(auth.password, user, domain), serverChallenge, clientChallenge), clientChallenge]);
  }
  const d = Buffer.from(domain, 'utf16le');
  const u = Buffer.from(user, 'utf16le');
  const w = Buffer.from(workstation, 'utf16le');
  const header = Buffer.alloc(64);
  SIGNATURE.copy(header, 0);
  header.writeUInt32LE(3, 8);
  let offset = 64;
  const put = (at: number, b: Buffer): void => {
    header.writeUInt16LE(b.length, at);
    header.writeUInt16LE(b.length, at + 2);
    header.writeUInt32LE(offset, at + 4);
    offset += b.length;
  };
  put(12, lm);
  put(20, nt);
  put(28, d);
  put(36, u);
  put(44, w);
  put(52, Buffer.alloc(0));
  header.writeUInt32LE((NTLM_FLAGS.UNICODE | NTLM_FLAGS.NTLM) >>> 0, 60);
  return Buffer.concat([header, lm, nt, d, u, w]);
}

/** Read the server challenge out of a CHALLENGE_MESSAGE (tests use it to check per-connection challenges). */
export function challengeOf(msg: Buffer): Buffer | null {
  if (msg.length < 32 || !msg.subarray(0, 8).equals(SIGNATURE) || msg.readUInt32LE(8) !== 2) return null;
  return Buffer.from(msg.subarray(24, 32));
}
