// Starts the real proxy (Gateway) on port 0 with a config that goes through the real YAML parser, in front of
// mock CAS servers the test provides. Everything is torn down by the returned stop().
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request, type Dispatcher } from 'undici';
import { stringify } from 'yaml';
import { parseConfigText } from '../../src/config/load.js';
import { Gateway } from '../../src/gateway.js';
import { provision } from '../../src/runtime/provision.js';
import { memoryLogger } from '../../src/logging/logger.js';
import type { RequestRecord } from '../../src/logging/request-record.js';
import { issueCertificate, type GeneratedCertificate } from '../../src/tls/generate.js';

export interface TestServer {
  name: string;
  httpPort: number;
  httpsPort: number;
  fingerprint256?: string;
}

let shared: { dir: string; ca: GeneratedCertificate; certFile: string; keyFile: string } | undefined;

/** A lab CA and a certificate for mail.contoso.lab / autodiscover.contoso.lab, made once per test file. */
export function testCertificates() {
  if (shared) return shared;
  const dir = mkdtempSync(join(tmpdir(), 'casgate-test-'));
  const ca = issueCertificate({ commonName: 'casgate test CA', isCa: true });
  const leaf = issueCertificate({ commonName: 'mail.contoso.lab', dnsNames: ['mail.contoso.lab', 'autodiscover.contoso.lab'], issuer: ca });
  const certFile = join(dir, 'mail.crt');
  const keyFile = join(dir, 'mail.key');
  writeFileSync(certFile, leaf.certPem + ca.certPem);
  writeFileSync(keyFile, leaf.keyPem);
  writeFileSync(join(dir, 'ca.crt'), ca.certPem);
  shared = { dir, ca, certFile, keyFile };
  return shared;
}

export function deepMerge<T>(base: T, extra: unknown): T {
  if (!extra || typeof extra !== 'object' || Array.isArray(extra)) return (extra ?? base) as T;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(extra)) {
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && out[k] && typeof out[k] === 'object' ? deepMerge(out[k], v) : v;
  }
  return out as T;
}

/** The config a test starts from: Exchange preset over `servers`, listeners on port 0, no access log. */
export function baseConfig(servers: TestServer[]): Record<string, unknown> {
  const certs = testCertificates();
  return {
    listen: { https: { address: '127.0.0.1', port: 0 } },
    admin: { address: '127.0.0.1', port: 0, token: 'test-admin-token-0123456789' },
    certificates: [{ cert: certs.certFile, key: certs.keyFile }],
    pools: {
      cas: {
        servers: servers.map((s) => ({
          name: s.name,
          host: '127.0.0.1',
          port: s.httpPort,
          httpsPort: s.httpsPort,
          ...(s.fingerprint256 ? { fingerprint256: s.fingerprint256 } : {}),
        })),
      },
    },
    exchange: { pool: 'cas', hostnames: ['mail.contoso.lab', 'autodiscover.contoso.lab'] },
    logging: { access: 'off' },
  };
}

export interface TestGateway {
  gateway: Gateway;
  /** https://127.0.0.1:<port> */
  url: string;
  port: number;
  adminUrl: string;
  records: RequestRecord[];
  logLines: string[];
  /** A keep-alive client that trusts the test CA. */
  client: Dispatcher;
  get(path: string, opts?: Omit<Dispatcher.RequestOptions, 'origin' | 'path' | 'method'> & { method?: Dispatcher.HttpMethod }): Promise<TestResponse>;
  stop(): Promise<void>;
}

export interface TestResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json<T = Record<string, unknown>>(): T;
}

export async function startTestGateway(servers: TestServer[], overrides: Record<string, unknown> = {}): Promise<TestGateway> {
  const config = parseConfigText(stringify(deepMerge(baseConfig(servers), overrides)), 'test.yaml', {});
  const logger = memoryLogger();
  const records: RequestRecord[] = [];
  const gateway = await Gateway.start(provision(config), { logger, onRecord: (r) => records.push(r) });
  const port = gateway.addresses.https.port;
  const url = `https://127.0.0.1:${port}`;
  const client = new Agent({ connect: { ca: testCertificates().ca.certPem, servername: 'mail.contoso.lab' } });
  return {
    gateway,
    url,
    port,
    adminUrl: `http://127.0.0.1:${gateway.addresses.admin.port}`,
    records,
    logLines: logger.lines,
    client,
    async get(path, opts = {}) {
      const res = await request(`${url}${path}`, { dispatcher: client, headers: { host: 'mail.contoso.lab' }, ...opts });
      const text = await res.body.text();
      return { status: res.statusCode, headers: res.headers, text, json: () => JSON.parse(text) };
    },
    async stop() {
      await client.close();
      await gateway.stop();
    },
  };
}
