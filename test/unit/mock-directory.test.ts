// The mock CAS's directory: MD4 and NTLMv2 against published test vectors, name forms, AD-style lockout.
import { describe, expect, test } from 'vitest';
import { Directory, loadDirectoryFile } from '../../src/lab/mock/directory.js';
import { md4 } from '../../src/lab/mock/md4.js';
import { buildAuthenticate, buildChallenge, newServerChallenge, ntowfV2, parseNtlm, verifyNtlmV2 } from '../../src/lab/mock/ntlm-messages.js';

describe('MD4 and NTOWFv2', () => {
  test.each([
    ['', '31d6cfe0d16ae931b73c59d7e0c089c0'],
    ['a', 'bde52cb31de33e46245e05fbdbd6fb24'],
    ['abc', 'a448017aaf21d8525fc10ae87aa6729d'],
    ['message digest', 'd9130a8164549fe818874806e1c7014b'],
    ['12345678901234567890123456789012345678901234567890123456789012345678901234567890', 'e33b4ddc9c38f2199c3e7b164fcc0536'],
  ])('RFC 1320: MD4(%j)', (input, hex) => expect(md4(Buffer.from(input, 'latin1')).toString('hex')).toBe(hex));

  test('MS-NLMP 4.2.2.1.2 and 4.2.4.1.1: NT hash and NTOWFv2 of User/Domain/Password', () => {
    expect(md4(Buffer.from('Password', 'utf16le')).toString('hex')).toBe('a4f49c406510bdcab6824ee7c30fd852');
    expect(ntowfV2('Password', 'User', 'Domain').toString('hex')).toBe('0c868a403bfd7a93a3001ef22ef02e3f');
  });

  test('an NTLMv2 response built with the password verifies; with another password, or another challenge, it does not', () => {
    const challenge = newServerChallenge();
    const type2 = buildChallenge(challenge, 1, { domain: 'CONTOSO', computer: 'CAS1', dnsDomain: 'contoso.lab', dnsComputer: 'cas1.contoso.lab' });
    const good = parseNtlm(buildAuthenticate('CONTOSO', 'alice', 'WS01', { password: 'Passw0rd', challenge: type2 }));
    if (good?.type !== 3) throw new Error('not a type 3');
    expect(verifyNtlmV2('Passw0rd', good, challenge)).toBe(true);
    expect(verifyNtlmV2('passw0rd', good, challenge)).toBe(false);
    expect(verifyNtlmV2('Passw0rd', good, newServerChallenge())).toBe(false);
    const dummy = parseNtlm(buildAuthenticate('CONTOSO', 'alice'));
    if (dummy?.type !== 3) throw new Error('not a type 3');
    expect(verifyNtlmV2('Passw0rd', dummy, challenge)).toBe(false);
  });
});

describe('Directory', () => {
  const config = loadDirectoryFile();
  test('the lab file has CONTOSO\\alice / Passw0rd, accepted as alice, CONTOSO\\alice and alice@contoso.lab', () => {
    const dir = new Directory(config);
    const pw = (p: string) => (expected: string) => expected === p;
    expect(dir.logon('alice', '', pw('Passw0rd'))).toEqual({ ok: true, account: 'alice' });
    expect(dir.logon('CONTOSO\\Alice', '', pw('Passw0rd')).ok).toBe(true);
    expect(dir.logon('alice@contoso.lab', '', pw('Passw0rd')).ok).toBe(true);
    expect(dir.logon('ALICE', 'contoso', pw('Passw0rd')).ok).toBe(true);
    expect(dir.logon('alice', 'FABRIKAM', pw('Passw0rd'))).toEqual({ ok: false, reason: 'unknown-user' });
    expect(dir.logon('mallory', '', pw('Passw0rd'))).toEqual({ ok: false, reason: 'unknown-user' });
    expect(dir.logon('alice', '', pw('passw0rd'))).toEqual({ ok: false, reason: 'bad-password' });
  });

  test('locks after the threshold of bad passwords within the window; locked fails even with the right password; unlocks after the duration', () => {
    let now = 1_000_000;
    const dir = new Directory({ ...config, lockout: { threshold: 3, durationMs: 60_000, observationWindowMs: 30_000 } }, () => now);
    const bad = () => dir.logon('bob', '', () => false);
    const good = () => dir.logon('bob', '', () => true);
    bad();
    bad();
    now += 31_000; // the observation window restarts the count
    bad();
    bad();
    expect(good().ok).toBe(true); // success resets the count
    bad();
    bad();
    expect(bad()).toEqual({ ok: false, reason: 'bad-password' });
    expect(good()).toEqual({ ok: false, reason: 'locked' });
    expect(dir.stats()).toMatchObject({ lockouts: 1, locked: ['bob'], badPasswords: { bob: 7 } });
    now += 60_001;
    expect(good().ok).toBe(true);
    dir.reset();
    expect(dir.stats()).toMatchObject({ lockouts: 0, locked: [], badPasswords: {} });
  });
});
