// Pure parts of the mock CAS: the NTLM codec (MS-NLMP layout), the RPC head parser and sniffer, path handling.
import { describe, expect, it } from 'vitest';
import { buildAuthenticate, buildChallenge, buildNegotiate, challengeOf, extractNtlm, NTLM_FLAGS, parseNtlm } from '../../src/lab/mock/ntlm-messages.js';
import { parseHead, sniffRpc, virtualConnectionCookie } from '../../src/lab/mock/rpc-head.js';
import { canonicalVdir, parseTarget } from '../../src/lab/mock/paths.js';

const target = { domain: 'CONTOSO', computer: 'CAS1', dnsDomain: 'contoso.lab', dnsComputer: 'cas1.contoso.lab' };

describe('NTLM messages', () => {
  it('parses a NEGOTIATE and answers with a CHALLENGE in the client charset', () => {
    const t1 = parseNtlm(buildNegotiate(NTLM_FLAGS.OEM | NTLM_FLAGS.NTLM | NTLM_FLAGS.EXTENDED_SESSIONSECURITY));
    expect(t1).toEqual({ type: 1, flags: (NTLM_FLAGS.OEM | NTLM_FLAGS.NTLM | NTLM_FLAGS.EXTENDED_SESSIONSECURITY) >>> 0 });
    const challenge = Buffer.from('0123456789abcdef', 'hex');
    const t2 = buildChallenge(challenge, t1?.type === 1 ? t1.flags : 0, target);
    expect(t2.subarray(0, 12).toString('latin1')).toBe('NTLMSSP\0\x02\0\0\0');
    expect(challengeOf(t2)?.equals(challenge)).toBe(true);
    const flags = t2.readUInt32LE(20);
    expect(flags & NTLM_FLAGS.OEM).toBeTruthy();
    expect(flags & NTLM_FLAGS.UNICODE).toBe(0);
    expect(flags & NTLM_FLAGS.TARGET_INFO).toBeTruthy();
    expect(flags & NTLM_FLAGS.EXTENDED_SESSIONSECURITY).toBeTruthy();
    // Target name: OEM "CONTOSO" at the offset in its security buffer.
    const len = t2.readUInt16LE(12);
    const off = t2.readUInt32LE(16);
    expect(t2.subarray(off, off + len).toString('latin1')).toBe('CONTOSO');
    // TargetInfo ends with MsvAvEOL.
    const tiLen = t2.readUInt16LE(40);
    const tiOff = t2.readUInt32LE(44);
    expect(tiOff + tiLen).toBe(t2.length);
    expect(t2.subarray(t2.length - 4).equals(Buffer.alloc(4))).toBe(true);
  });

  it('reads domain and user from an AUTHENTICATE, in UTF-16LE when NEGOTIATE_UNICODE', () => {
    expect(parseNtlm(buildAuthenticate('CONTOSO', 'Jürgen'))).toMatchObject({ type: 3, domain: 'CONTOSO', user: 'Jürgen', workstation: 'WS01' });
  });

  it('finds NTLM inside a SPNEGO wrapper and rejects garbage and out-of-range buffers', () => {
    const wrapped = Buffer.concat([Buffer.from([0x60, 0x28, 0x06, 0x06]), buildNegotiate()]);
    expect(parseNtlm(extractNtlm(wrapped) ?? Buffer.alloc(0))?.type).toBe(1);
    expect(extractNtlm(Buffer.from('not ntlm'))).toBeNull();
    const bad = buildAuthenticate('D', 'u');
    bad.writeUInt32LE(10_000, 40); // user name offset past the end
    expect(parseNtlm(bad)).toBeNull();
    expect(parseNtlm(Buffer.from('NTLMSSP\0'))).toBeNull();
  });
});

describe('RPC heads', () => {
  it('sniffs RPC methods from the first bytes, even one byte at a time', () => {
    expect(sniffRpc(Buffer.from('RPC_IN_DATA /rpc'))).toBe('rpc');
    expect(sniffRpc(Buffer.from('RPC_OUT_DATA '))).toBe('rpc');
    expect(sniffRpc(Buffer.from('RPC_'))).toBe('more');
    expect(sniffRpc(Buffer.from('R'))).toBe('more');
    expect(sniffRpc(Buffer.from('GET / HTTP/1.1'))).toBe('other');
    expect(sniffRpc(Buffer.from('RPC_IN_DATAX'))).toBe('other');
  });

  it('parses a head with Content-Length and keeps raw header lines', () => {
    const r = parseHead(Buffer.from('RPC_IN_DATA /rpc/rpcproxy.dll?h:6001 HTTP/1.1\r\nHost: a\r\nContent-Length: 1073741824\r\nX-A: 1\r\nX-A: 2\r\n\r\nBODY'));
    expect(r.kind).toBe('head');
    if (r.kind !== 'head') return;
    expect(r.head).toMatchObject({ method: 'RPC_IN_DATA', target: '/rpc/rpcproxy.dll?h:6001', contentLength: 1_073_741_824 });
    expect(r.head.headers['x-a']).toBe('1, 2');
    expect(r.head.rawHeaders).toContainEqual(['Content-Length', '1073741824']);
    expect(r.head.headLength).toBe(r.head.headLength);
  });

  it('refuses malformed heads', () => {
    for (const bad of [
      'RPC_IN_DATA /x HTTP/2.0\r\n\r\n',
      'RPC_IN_DATA /x HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n',
      'RPC_IN_DATA /x HTTP/1.1\r\nContent-Length: -1\r\n\r\n',
      'RPC_IN_DATA /x HTTP/1.1\r\n: empty name\r\n\r\n',
    ]) {
      expect(parseHead(Buffer.from(bad)).kind, bad).toBe('bad');
    }
    expect(parseHead(Buffer.from('RPC_IN_DATA /x HTTP/1.1\r\nHost: a\r\n')).kind).toBe('more');
  });

  it('reads the virtual connection cookie of a CONN/A1-shaped PDU', () => {
    const pdu = Buffer.alloc(76);
    pdu.set([5, 0, 0x14, 3], 0);
    pdu.writeUInt32LE(6, 20);
    pdu.writeUInt32LE(3, 28);
    pdu.fill(0xab, 32, 48);
    expect(virtualConnectionCookie(pdu)).toBe('ab'.repeat(16));
    expect(virtualConnectionCookie(Buffer.alloc(76))).toBeNull();
  });
});

describe('paths', () => {
  it('maps vdirs case-insensitively and accepts absolute-form targets', () => {
    expect(parseTarget('/Microsoft-Server-ActiveSync?Cmd=Ping').vdir).toBe('activesync');
    expect(parseTarget('http://mail/EWS/Exchange.asmx?x=1')).toMatchObject({ path: '/EWS/Exchange.asmx', lower: '/ews/exchange.asmx', vdir: 'ews' });
    expect(parseTarget('/').vdir).toBe('other');
    expect(canonicalVdir('EWS')).toBe('ews');
    expect(canonicalVdir('Microsoft-Server-ActiveSync')).toBe('activesync');
    expect(canonicalVdir('*')).toBe('*');
    expect(canonicalVdir('nope')).toBeUndefined();
  });
});
