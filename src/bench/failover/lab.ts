// The topology a failover run acts on: N mock CAS servers as child processes (so that kill -9 kills a real process)
// and casgate in this process. In-process because the run needs what only the gateway knows, on the same clock as the
// clients: which CAS each request went to and after how many attempts (its request records), and when each CAS left
// and rejoined each pool (backend.available(), sampled every 10 ms). A child `casgate run` would give the first only
// through its access log and the second not at all; the cost is that clients and gateway share a core.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { configSchema } from '../../config/schema.js';
import { Gateway } from '../../gateway.js';
import { provisionConfig } from '../../runtime/provision.js';
import { spawnMockCasProcess, type MockCasProcess } from '../../lab/mock-process.js';
import { createLogger } from '../../logging/logger.js';
import type { RequestRecord } from '../../logging/request-record.js';
import { issueCertificate } from '../../tls/generate.js';
import type { ClientTls, FailoverTarget } from './target.js';
import { AvailabilityRecorder, type AvailabilityChange, type EventAction } from './timeline.js';

export interface LabOptions {
  servers: number;
  /** Active health: probe interval, fall and rise (unhealthyInterval = interval). */
  intervalMs: number;
  fall: number;
  rise: number;
  slowStartMs: number;
  drainTimeoutMs: number;
  /** Delay each mock adds before answering (ms), so that requests are in flight long enough to be caught by an outage. */
  latencyMs: number;
  onRecord: (r: RequestRecord) => void;
}

export const HOSTNAME = 'mail.contoso.lab';
const TOKEN = 'bench-failover-token-0123456789';

export class FailoverLab implements FailoverTarget {
  readonly description = 'in-process';
  private readonly mocks = new Map<string, MockCasProcess>();
  private sampler?: NodeJS.Timeout;
  readonly availability: AvailabilityChange[] = [];

  private constructor(
    readonly gateway: Gateway,
    readonly ca: string,
    private readonly dir: string,
    private readonly latencyMs: number,
    mocks: MockCasProcess[],
  ) {
    for (const m of mocks) this.mocks.set(m.name, m);
  }

  static async start(o: LabOptions): Promise<FailoverLab> {
    const dir = mkdtempSync(join(tmpdir(), 'casgate-bench-failover-'));
    const ca = issueCertificate({ commonName: 'casgate bench CA', isCa: true });
    const leaf = issueCertificate({ commonName: HOSTNAME, dnsNames: [HOSTNAME], issuer: ca });
    writeFileSync(join(dir, 'mail.crt'), leaf.certPem + ca.certPem);
    writeFileSync(join(dir, 'mail.key'), leaf.keyPem);
    const mocks = await Promise.all(Array.from({ length: o.servers }, (_, i) => spawnMockCasProcess(`cas${i + 1}`)));
    const config = configSchema.parse({
      listen: { https: { address: '127.0.0.1', port: 0 } },
      admin: { address: '127.0.0.1', port: 0, token: TOKEN },
      certificates: [{ cert: join(dir, 'mail.crt'), key: join(dir, 'mail.key') }],
      pools: {
        cas: {
          servers: mocks.map((m) => ({ name: m.name, host: '127.0.0.1', port: m.httpPort, httpsPort: m.httpsPort })),
          health: {
            interval: `${o.intervalMs}ms`,
            unhealthyInterval: `${o.intervalMs}ms`,
            fall: o.fall,
            rise: o.rise,
            jitter: `${Math.round(o.intervalMs / 10)}ms`,
          },
          slowStart: `${o.slowStartMs}ms`,
          drainTimeout: `${o.drainTimeoutMs}ms`,
        },
      },
      exchange: { pool: 'cas', hostnames: [HOSTNAME], services: ['owa', 'ews', 'mapi', 'rpc', 'activesync', 'oab', 'autodiscover'] },
      logging: { access: 'off' },
    });
    const gateway = await Gateway.start(provisionConfig(config), { logger: createLogger('error'), onRecord: o.onRecord });
    const lab = new FailoverLab(gateway, ca.certPem, dir, o.latencyMs, mocks);
    await Promise.all(mocks.map((m) => lab.setLatency(m)));
    return lab;
  }

  get serverNames(): string[] {
    return [...this.mocks.keys()];
  }

  get origin(): string {
    return `https://127.0.0.1:${this.gateway.addresses.https.port}`;
  }

  readonly host = '127.0.0.1';

  get port(): number {
    return this.gateway.addresses.https.port;
  }

  get tls(): ClientTls {
    return { ca: this.ca, servername: HOSTNAME };
  }

  /** Samples every backend's availability across its pools every `everyMs`; records changes only, with times from `t0`. */
  startSampling(t0: number, everyMs = 10): void {
    const recorder = new AvailabilityRecorder(this.availability);
    const sample = () =>
      recorder.record(
        performance.now() - t0,
        [...this.gateway.pools.values()].flatMap((pool) => pool.backends.map((b) => ({ backend: b.name, inService: b.available() }))),
      );
    sample();
    this.sampler = setInterval(sample, everyMs);
  }

  /** Carries out one schedule event; resolves when the action is done (a restarted CAS listens again). */
  async act(action: EventAction, server: string): Promise<void> {
    const m = this.mocks.get(server);
    if (!m) throw new Error(`no CAS named ${server}`);
    switch (action) {
      case 'kill':
        await m.kill('SIGKILL');
        return;
      case 'restart': {
        const again = await spawnMockCasProcess(server, { httpPort: m.httpPort, httpsPort: m.httpsPort });
        this.mocks.set(server, again);
        await this.setLatency(again);
        return;
      }
      case 'maintenance-on':
      case 'maintenance-off':
        await control(m, 'maintenance', { on: action === 'maintenance-on' });
        return;
      case 'drain':
      case 'enable':
        await this.admin(`/api/backends/${server}/${action}`);
        return;
    }
  }

  private async setLatency(m: MockCasProcess): Promise<void> {
    // Every request path but the probes (healthcheck.htm answers at once, as on a real CAS).
    for (const path of ['/owa', '/EWS', '/mapi', '/OAB', '/Autodiscover']) await control(m, 'latency', { ms: this.latencyMs, path });
  }

  private async admin(path: string): Promise<void> {
    const res = await request(`http://127.0.0.1:${this.gateway.addresses.admin.port}${path}`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    await res.body.dump();
    if (res.statusCode !== 200) throw new Error(`admin ${path}: ${res.statusCode}`);
  }

  async stop(): Promise<void> {
    if (this.sampler) clearInterval(this.sampler);
    await this.gateway.stop();
    await Promise.all([...this.mocks.values()].map((m) => m.kill('SIGTERM')));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

async function control(m: MockCasProcess, action: string, body: unknown): Promise<void> {
  const res = await request(`http://127.0.0.1:${m.controlPort}/__mock/${action}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  await res.body.dump();
  if (res.statusCode !== 200) throw new Error(`mock control ${action} on ${m.name}: ${res.statusCode}`);
}
