// What broke: 20,000 ActiveSync Pings through one casgate whose descriptor limit was 20,000 (2 descriptors per Ping:
// client and CAS sockets). Once the limit was reached, connects to the CAS failed with EMFILE; they were counted
// against the CAS (passive health) and the health probes failed the same way, so the healthy CAS left its pools and
// every Ping it held was cut: 1 held out of 20,000. The gateway's own exhaustion is now a 503 that says so, and
// neither passive nor active health holds it against the server.
import { describe, expect, it } from 'vitest';
import type { Dispatcher } from 'undici';
import { classifyUpstreamError, FAILURES } from '../../src/failure.js';
import { probeOnce } from '../../src/upstream/health/active.js';
import type { Backend } from '../../src/upstream/backend.js';

function emfile(): NodeJS.ErrnoException {
  return Object.assign(new Error('connect EMFILE 127.0.0.1:8080 - Local (undefined:undefined)'), { code: 'EMFILE', syscall: 'connect' });
}

describe('the gateway running out of descriptors', () => {
  it('is a 503 GATEWAY_EXHAUSTED, not the backend fault', () => {
    for (const code of ['EMFILE', 'ENFILE']) {
      const failure = classifyUpstreamError(Object.assign(new Error(code), { code }), { connected: false });
      expect(failure.code).toBe('GATEWAY_EXHAUSTED');
      expect(failure.backendFault).toBe(false);
      expect(FAILURES[failure.code].status).toBe(503);
    }
    // undici wraps socket errors: the code may be on the cause.
    const wrapped = Object.assign(new Error('fetch failed'), { cause: emfile() });
    expect(classifyUpstreamError(wrapped, { connected: false }).backendFault).toBe(false);
    // A refused connection still is the server's.
    expect(classifyUpstreamError(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }), { connected: false }).backendFault).toBe(true);
  });

  it('makes a health probe inconclusive instead of failed', async () => {
    const dispatcher = { request: () => Promise.reject(emfile()) } as unknown as Dispatcher;
    const backend = { origin: { url: 'http://127.0.0.1:8080' } } as Backend;
    const result = await probeOnce(dispatcher, backend, '/owa/healthcheck.htm', 'mail.contoso.lab', { timeout: 1000, expectBody: '200 OK' });
    expect(result).toMatchObject({ ok: false, inconclusive: true });
    expect(result.detail).toContain('EMFILE');
  });
});
