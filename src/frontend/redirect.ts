// The plain HTTP listener: every request is answered 301 to the same URL on https, as Exchange's IIS
// "Require SSL" publishing expects. Nothing is proxied over plain HTTP.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostName } from '../router/router.js';
import { closeServer, listenOn } from './serve.js';

export function httpsLocation(hostHeader: string | undefined, url: string, httpsPort: number, fallbackHost: string): string {
  const host = hostHeader ? hostName(hostHeader) : fallbackHost;
  const port = httpsPort === 443 ? '' : `:${httpsPort}`;
  const path = url.startsWith('/') ? url : '/';
  return `https://${host}${port}${path}`;
}

export class RedirectListener {
  readonly server: http.Server;

  constructor(
    private readonly address: string,
    private readonly port: number,
    /** Public HTTPS port to redirect to. */
    httpsPort: () => number,
    fallbackHost: string,
  ) {
    this.server = http.createServer({ requestTimeout: 30_000, headersTimeout: 10_000 }, (req, res) => {
      const location = httpsLocation(req.headers.host, req.url ?? '/', httpsPort(), fallbackHost);
      const body = `Moved Permanently: ${location}\n`;
      res.writeHead(301, { location, 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
    this.server.on('clientError', (_err, socket) => socket.destroy());
  }

  listen(): Promise<AddressInfo> {
    return listenOn(this.server, this.port, this.address);
  }

  close(): Promise<void> {
    return closeServer(this.server);
  }
}
