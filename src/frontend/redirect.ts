// The plain HTTP listener: every request is answered 301 to the same URL on https, as Exchange's IIS
// "Require SSL" publishing expects. Nothing is proxied over plain HTTP. The Location names a published host, never
// whatever the client put in Host (issue 15, item 7: `Host: evil.example` used to come back as
// `Location: https://evil.example/...`), and carries the canonical path.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PublishedHosts } from '../router/published-hosts.js';
import { parseHost, requestHost } from '../router/request-host.js';
import { canonicalTarget } from '../router/request-target.js';
import { closeServer, listenOn } from '../net/serve.js';

/**
 * Where a plain HTTP request is sent, or undefined when it cannot be answered with a redirect (a malformed target, or
 * no usable host: nothing published and no valid Host). The client's host is kept when it is published (or when
 * nothing is published, so there is nothing to check it against); anything else gets the first published name.
 */
export function httpsLocation(req: Pick<http.IncomingMessage, 'url' | 'rawHeaders' | 'httpVersion'>, httpsPort: number, published: PublishedHosts): string | undefined {
  const target = canonicalTarget(req.url ?? '/');
  if (!target.ok) return undefined;
  const checked = requestHost(req.rawHeaders, req.httpVersion, false);
  let name = checked.ok ? checked.name : undefined;
  if (target.authority !== undefined) {
    const authority = parseHost(target.authority);
    name = authority.ok ? authority.name : undefined;
  }
  let host: string | undefined;
  if (name !== undefined && (published.covers(name) || !published.any)) host = name;
  else host = published.first;
  if (host === undefined) return undefined;
  const port = httpsPort === 443 ? '' : `:${httpsPort}`;
  return `https://${host}${port}${target.path}${target.query}`;
}

export class RedirectListener {
  readonly server: http.Server;

  constructor(
    private readonly address: string,
    private readonly port: number,
    /** Public HTTPS port to redirect to. */
    httpsPort: () => number,
    /** The published names in effect (a reload swaps them). */
    published: () => PublishedHosts,
  ) {
    this.server = http.createServer({ requestTimeout: 30_000, headersTimeout: 10_000 }, (req, res) => {
      const location = httpsLocation(req, httpsPort(), published());
      if (location === undefined) {
        const body = '400 Malformed request.\n';
        res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body), connection: 'close' });
        return res.end(body);
      }
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
