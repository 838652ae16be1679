// identityFromAuthorization: the user a request names, from Basic, NTLM and Negotiate-wrapped NTLM; nothing from
// type 1 messages, Kerberos or malformed input; never a password.
import { describe, expect, test } from 'vitest';
import { identityFromAuthorization } from '../../src/proxy/auth-identity.js';
import { buildAuthenticate, buildNegotiate } from '../../src/lab/mock/ntlm-messages.js';

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');

/** DER length bytes. */
function len(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  if (n < 0x100) return Buffer.from([0x81, n]);
  return Buffer.from([0x82, n >> 8, n & 0xff]);
}
const der = (tag: number, ...parts: Buffer[]) => {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([tag]), len(body.length), body]);
};
const SPNEGO_OID = Buffer.from([0x06, 0x06, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02]);
const NTLM_OID = Buffer.from([0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a]);
const KRB5_OID = Buffer.from([0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02]);
/** NegTokenResp { negState [0] accept-incomplete, responseToken [2] } as Windows sends the type 3. */
const negTokenResp = (token: Buffer) => der(0xa1, der(0x30, der(0xa0, Buffer.from([0x0a, 0x01, 0x01])), der(0xa2, der(0x04, token))));
/** InitialContextToken { SPNEGO OID, [0] NegTokenInit { mechTypes [0], mechToken [2] } }. */
const negTokenInit = (mech: Buffer, token: Buffer) => der(0x60, SPNEGO_OID, der(0xa0, der(0x30, der(0xa0, der(0x30, mech)), der(0xa2, der(0x04, token)))));

describe('identityFromAuthorization', () => {
  test.each([
    ['Basic ' + b64('alice:Passw0rd'), { user: 'alice', scheme: 'basic' }],
    ['basic ' + b64('CONTOSO\\alice:Passw0rd'), { user: 'alice', domain: 'CONTOSO', scheme: 'basic' }],
    ['Basic ' + b64('alice@contoso.lab:pa:ss'), { user: 'alice@contoso.lab', scheme: 'basic' }],
    ['Basic ' + b64('Jürgen:x'), { user: 'Jürgen', scheme: 'basic' }],
    ['NTLM ' + b64(buildAuthenticate('CONTOSO', 'alice')), { user: 'alice', domain: 'CONTOSO', scheme: 'ntlm' }],
    ['Negotiate ' + b64(buildAuthenticate('CONTOSO', 'bob')), { user: 'bob', domain: 'CONTOSO', scheme: 'negotiate' }],
    ['Negotiate ' + b64(negTokenResp(buildAuthenticate('CONTOSO', 'carol'))), { user: 'carol', domain: 'CONTOSO', scheme: 'negotiate' }],
    ['Negotiate ' + b64(negTokenInit(NTLM_OID, buildAuthenticate('', 'dave@contoso.lab'))), { user: 'dave@contoso.lab', scheme: 'negotiate' }],
  ])('%s', (header, expected) => {
    expect(identityFromAuthorization(header)).toEqual(expected);
  });

  test.each([
    ['no header', undefined],
    ['Bearer', 'Bearer abc.def'],
    ['Basic without colon', 'Basic ' + b64('alice')],
    ['Basic with empty user', 'Basic ' + b64(':pw')],
    ['Basic not base64', 'Basic !!!!'],
    ['Basic with a control character', 'Basic ' + b64('ali\u0000ce:pw')],
    ['NTLM type 1', 'NTLM ' + b64(buildNegotiate())],
    ['Negotiate type 1 in NegTokenInit', 'Negotiate ' + b64(negTokenInit(NTLM_OID, buildNegotiate()))],
    ['Kerberos AP-REQ', 'Negotiate ' + b64(negTokenInit(KRB5_OID, Buffer.concat([Buffer.from([0x6e, 0x82, 0x01, 0x00]), Buffer.alloc(256, 7)])))],
    ['Kerberos NegTokenResp', 'Negotiate ' + b64(negTokenResp(Buffer.from([0x6f, 0x10, ...Buffer.alloc(16, 1)])))],
    ['NTLM garbage', 'NTLM ' + b64('NTLMSSP\0garbage')],
    ['scheme only', 'NTLM'],
  ])('%s → undefined', (_name, header) => {
    expect(identityFromAuthorization(header)).toBeUndefined();
  });

  test('a type 3 whose user buffer points outside the message, or has an odd UTF-16 length, is refused', () => {
    const overrun = buildAuthenticate('CONTOSO', 'alice');
    overrun.writeUInt32LE(overrun.length - 2, 36 + 4);
    expect(identityFromAuthorization('NTLM ' + b64(overrun))).toBeUndefined();
    const odd = buildAuthenticate('CONTOSO', 'alice');
    odd.writeUInt16LE(9, 36);
    expect(identityFromAuthorization('NTLM ' + b64(odd))).toBeUndefined();
    const intoHeader = buildAuthenticate('CONTOSO', 'alice');
    intoHeader.writeUInt32LE(8, 36 + 4);
    expect(identityFromAuthorization('NTLM ' + b64(intoHeader))).toBeUndefined();
  });

  test('a SPNEGO length that overruns its buffer is refused, not read past', () => {
    const token = negTokenResp(buildAuthenticate('CONTOSO', 'carol'));
    token[1] = 0x7f;
    expect(identityFromAuthorization('Negotiate ' + b64(token))).toBeUndefined();
  });

  test('the password appears nowhere in the result', () => {
    const id = identityFromAuthorization('Basic ' + b64('CONTOSO\\alice:S3cret-Passw0rd'));
    expect(JSON.stringify(id)).not.toContain('S3cret');
  });

  test('every truncation of a type 3 and of a NegTokenResp is handled without throwing', () => {
    const msg = buildAuthenticate('CONTOSO', 'alice');
    const wrapped = negTokenResp(msg);
    for (let n = 0; n < wrapped.length; n++) {
      expect(() => identityFromAuthorization('NTLM ' + b64(msg.subarray(0, Math.min(n, msg.length))))).not.toThrow();
      expect(() => identityFromAuthorization('Negotiate ' + b64(wrapped.subarray(0, n)))).not.toThrow();
    }
  });
});
