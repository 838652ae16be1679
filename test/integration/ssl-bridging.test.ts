// SSL bridging: /EWS/mrsproxy.svc is re-encrypted to the CAS (seed 000: MRSProxy does not support offloading),
// and the CAS certificate is verified: by a pinned fingerprint here (Exchange's self-signed back-end certificate).
import { copyFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startMockCas, type MockCas } from '../../src/lab/mock-cas.js';
import { buildNegotiate } from '../../src/lab/mock/ntlm-messages.js';
import { issueCertificate } from '../../src/tls/generate.js';
import { eventually } from '../helpers/eventually.js';
import { startTestGateway, testCertificates } from '../helpers/gateway-harness.js';

let cas1: MockCas;
const basic = { host: 'mail.contoso.lab', authorization: 'Basic YWxpY2U6UGFzc3cwcmQ=' };
const noProbes = { pools: { cas: { health: { enabled: false } } } };

beforeAll(async () => {
  cas1 = await startMockCas({ name: 'cas1' });
});
afterAll(async () => {
  await cas1?.close();
});

describe('SSL bridging', () => {
  test('mrsproxy reaches the CAS over HTTPS when its certificate matches the pin; other vdirs stay offloaded', async () => {
    const gw = await startTestGateway([{ ...cas1, fingerprint256: cas1.fingerprint256 }], noProbes);
    try {
      const res = await gw.get('/EWS/mrsproxy.svc', { method: 'POST', body: 'move', headers: basic });
      expect(res.status).toBe(200);
      expect(res.json<{ tls: boolean }>().tls).toBe(true);
      const ews = await gw.get('/EWS/Exchange.asmx', { headers: basic });
      expect(ews.json<{ tls: boolean }>().tls).toBe(false);
      // The CAS's own answer over plain HTTP shows why: MRSProxy refuses offloading.
      const direct = await fetch(`http://127.0.0.1:${cas1.httpPort}/EWS/mrsproxy.svc`, { headers: { authorization: basic.authorization } });
      expect(direct.status).toBe(403);
    } finally {
      await gw.stop();
    }
  });

  test('a certificate that does not match the pin fails closed: 502 and a log line naming both fingerprints', async () => {
    const wrongPin = 'AB'.repeat(32);
    const gw = await startTestGateway([{ ...cas1, fingerprint256: wrongPin }], noProbes);
    try {
      const res = await gw.get('/EWS/mrsproxy.svc', { headers: basic });
      expect(res.status).toBe(502);
      expect(res.headers['x-casgate-error']).toBe('UPSTREAM_TLS');
      const record = gw.records.at(-1)!;
      expect(record.errorDetail).toContain(`pinned ${wrongPin}`);
      expect(record.errorDetail).toContain(cas1.fingerprint256.replace(/:/g, ''));
    } finally {
      await gw.stop();
    }
  });

  test('without a pin or CA, a self-signed CAS certificate is refused (verification is never silently off)', async () => {
    const unpinned = { name: cas1.name, httpPort: cas1.httpPort, httpsPort: cas1.httpsPort };
    const gw = await startTestGateway([unpinned], noProbes);
    try {
      const res = await gw.get('/EWS/mrsproxy.svc', { headers: basic });
      expect(res.status).toBe(502);
      expect(res.headers['x-casgate-error']).toBe('UPSTREAM_TLS');
    } finally {
      await gw.stop();
    }
  });

  test('verified by a CA file (tls.ca), read once at start: it may go away; a CAS from another CA fails closed', async () => {
    // A CAS whose certificate the test CA issued for mail.contoso.lab (a real deployment's internal PKI).
    const certs = testCertificates();
    const caCas = await startMockCas({ name: 'cas3', tls: { certPem: readFileSync(certs.certFile, 'utf8'), keyPem: readFileSync(certs.keyFile, 'utf8') } });
    const caFile = join(certs.dir, 'ca-copy.crt');
    copyFileSync(join(certs.dir, 'ca.crt'), caFile);
    const server = { name: caCas.name, httpPort: caCas.httpPort, httpsPort: caCas.httpsPort };
    const gw = await startTestGateway([server], { pools: { cas: { health: { enabled: false }, tls: { ca: caFile, servername: 'mail.contoso.lab' } } } });
    try {
      expect((await gw.get('/EWS/mrsproxy.svc', { headers: basic })).status).toBe(200);
      // Nothing reads the CA file after start: NTLM pins the client to a backend connection of its own, made now.
      rmSync(caFile);
      const ntlm = await gw.get('/EWS/mrsproxy.svc', { headers: { host: 'mail.contoso.lab', authorization: `NTLM ${buildNegotiate().toString('base64')}` } });
      expect(ntlm.status).toBe(401);
      expect(String(ntlm.headers['www-authenticate'])).toMatch(/^NTLM \S+/);
    } finally {
      await gw.stop();
    }
    const otherCa = issueCertificate({ commonName: 'another CA', isCa: true });
    writeFileSync(caFile, otherCa.certPem);
    const refused = await startTestGateway([server], { pools: { cas: { health: { enabled: false }, tls: { ca: caFile, servername: 'mail.contoso.lab' } } } });
    try {
      const res = await refused.get('/EWS/mrsproxy.svc', { headers: basic });
      expect(res.status).toBe(502);
      expect(res.headers['x-casgate-error']).toBe('UPSTREAM_TLS');
    } finally {
      await refused.stop();
      await caCas.close();
    }
  });

  test('insecure: true works and is logged as a warning at start', async () => {
    const unpinned = { name: cas1.name, httpPort: cas1.httpPort, httpsPort: cas1.httpsPort };
    const gw = await startTestGateway([unpinned], { pools: { cas: { health: { enabled: false }, tls: { insecure: true } } } });
    try {
      expect((await gw.get('/EWS/mrsproxy.svc', { headers: basic })).status).toBe(200);
      expect(gw.logLines.some((l) => l.includes('WARN') && l.includes('cas/mrsproxy') && l.includes('verification is OFF'))).toBe(true);
    } finally {
      await gw.stop();
    }
  });

  test('Extended Protection: a CAS certificate different from the one casgate serves is reported at start', async () => {
    const gw = await startTestGateway([{ ...cas1, fingerprint256: cas1.fingerprint256 }], noProbes);
    try {
      const line = await eventually(() => gw.logLines.find((l) => l.includes('Extended Protection will reject')), { what: 'EP mismatch warning' });
      expect(line).toContain('pool cas/mrsproxy: cas1 presents certificate');
    } finally {
      await gw.stop();
    }
  });

  test('Extended Protection: offloaded Exchange services are warned about at start', async () => {
    const gw = await startTestGateway([cas1], noProbes);
    try {
      expect(gw.logLines.some((l) => l.includes('WARN') && l.includes('SSL-offloaded') && l.includes('Extended Protection'))).toBe(true);
    } finally {
      await gw.stop();
    }
  });
});
