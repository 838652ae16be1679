import { describe, expect, it } from 'vitest';
import { CertStore, SERVER_CIPHERS } from '../../src/tls/cert-store.js';
import { loadedCertificate } from '../fixtures/tls/generated.js';

const ca = loadedCertificate({ commonName: 'Store CA', isCa: true }).generated;
const fallback = loadedCertificate({ commonName: 'default.contoso.com', dnsNames: ['default.contoso.com'] }, 'default.pfx');
const wildcard = loadedCertificate({ commonName: '*.contoso.com', dnsNames: ['*.contoso.com'], issuer: ca }, 'wild.pfx');
const exact = loadedCertificate({ commonName: 'mail.contoso.com', dnsNames: ['mail.contoso.com'] }, 'mail.pfx');
const store = new CertStore([fallback, wildcard, exact]);

describe('CertStore', () => {
  it('needs a certificate', () => {
    expect(() => new CertStore([])).toThrow('CertStore needs at least one certificate');
  });

  it('picks exact over wildcard over the default', () => {
    expect(store.certificateFor('mail.contoso.com')).toBe(exact);
    expect(store.certificateFor('owa.contoso.com')).toBe(wildcard);
    expect(store.certificateFor('a.b.contoso.com')).toBe(fallback);
    expect(store.certificateFor('mail.fabrikam.com')).toBe(fallback);
    expect(store.certificateFor(undefined)).toBe(fallback);
    expect(store.certificateFor('')).toBe(fallback);
  });

  it('builds each context once and hands out the one for the chosen certificate', () => {
    expect(store.contextFor('mail.contoso.com')).toBe(store.contextFor('MAIL.contoso.com'));
    expect(store.contextFor('owa.contoso.com')).toBe(store.contextFor('ecp.contoso.com'));
    expect(store.contextFor('owa.contoso.com')).not.toBe(store.contextFor('mail.contoso.com'));
    expect(store.contextFor('unknown.example')).toBe(store.contextFor(undefined));
  });

  it('answers SNI callbacks with the same contexts', () => {
    let answered: unknown;
    store.sniCallback('owa.contoso.com', (err, context) => {
      expect(err).toBeNull();
      answered = context;
    });
    expect(answered).toBe(store.contextFor('owa.contoso.com'));
  });

  it('exposes the certificates for the coverage report and the Extended Protection check', () => {
    expect(store.certificates).toEqual([fallback, wildcard, exact]);
  });

  it('serves TLS 1.2+ with the default certificate, http/1.1 only and SNI', () => {
    const options = store.serverOptions();
    expect(options).toMatchObject({ minVersion: 'TLSv1.2', honorCipherOrder: true, ALPNProtocols: ['http/1.1'] });
    expect(options.SNICallback).toBe(store.sniCallback);
    expect(options.cert).toBe(fallback.certPem);
    expect(options.key).toBe(fallback.keyPem);
  });

  it('sends the chain after the leaf', () => {
    const withChain = new CertStore([wildcard]).serverOptions();
    expect(withChain.cert).toBe(`${wildcard.certPem}\n${ca.certPem}`);
  });

  it('offers only forward-secret AEAD suites', () => {
    const tls12 = SERVER_CIPHERS.split(':').filter((suite) => !suite.startsWith('TLS_'));
    expect(tls12.length).toBeGreaterThan(0);
    for (const suite of tls12) expect(suite).toMatch(/^ECDHE-(RSA|ECDSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$/);
  });
});
