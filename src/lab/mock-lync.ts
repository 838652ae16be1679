// A mock Lync/Skype for Business front end for the lab (seed 003): the simple URLs and external web services a
// reverse proxy publishes from 443 to the front end's external web site on 4443. HTTPS only, with a self-signed
// certificate of its own (as a front end's external web site has an internal-CA one), so casgate bridges to it and
// pins it. It answers /meet, /dialin, /lwa and /Autodiscover (Lync Discover) under meet., dialin., lyncdiscover. and
// webext.contoso.lab, and 404 for anything else, naming what it received so the lab shows the rule working.
import { X509Certificate } from 'node:crypto';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { issueCertificate } from '../tls/generate.js';
import { closeServer, listenOn } from '../net/serve.js';

export const LYNC_HOSTNAMES = ['meet.contoso.lab', 'dialin.contoso.lab', 'lyncdiscover.contoso.lab', 'webext.contoso.lab'] as const;
const SERVICES: Record<string, string> = {
  meet: 'Lync meeting join page',
  dialin: 'Dial-in conferencing settings',
  lwa: 'Lync Web App',
  autodiscover: 'Lync Discover',
};

export interface MockLync {
  port: number;
  fingerprint256: string;
  close(): Promise<void>;
}

export async function startMockLync({ port = 0, name = 'lyncfe1' } = {}): Promise<MockLync> {
  const cert = issueCertificate({ commonName: `${name}.contoso.lab`, dnsNames: [`${name}.contoso.lab`], organization: 'mock Lync front end' });
  const server = https.createServer({ cert: cert.certPem, key: cert.keyPem, minVersion: 'TLSv1.2' }, (req, res) => {
    const host = (req.headers.host ?? '').replace(/:\d+$/, '').toLowerCase();
    const path = new URL(req.url ?? '/', 'https://x').pathname;
    const vdir = path.split('/')[1]?.toLowerCase() ?? '';
    // The published names, and the front end's own name or address (what casgate's health probe sends).
    const known = (LYNC_HOSTNAMES as readonly string[]).includes(host) || host === `${name}.contoso.lab` || /^[\d.]+$/.test(host);
    const service = known ? SERVICES[vdir] : undefined;
    res.setHeader('x-lync-frontend', name);
    if (!service) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`${name}: nothing at ${host}${path}\n`);
      return;
    }
    if (vdir === 'autodiscover') {
      // Lync Discover answers JSON links to the user and web ticket services (UCWA starts here).
      const base = `https://${host}/Autodiscover/AutodiscoverService.svc/root`;
      res.writeHead(200, { 'content-type': 'application/vnd.microsoft.rtc.autodiscover+json; v=1' });
      res.end(`${JSON.stringify({ frontEnd: name, host, path, _links: { self: { href: base }, user: { href: `${base}/user` } } })}\n`);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><title>${service}</title><p>${service} on ${name} for ${host}${path}</p>\n`);
  });
  const address: AddressInfo = await listenOn(server, port, '127.0.0.1');
  return {
    port: address.port,
    fingerprint256: new X509Certificate(cert.certPem).fingerprint256,
    close: () => closeServer(server),
  };
}
