// A casgate already running in front of real (or lab) CAS servers, reached at any URL. What the built-in lab learns
// from inside the gateway comes from outside here: which CAS answered from Exchange's own X-FEServer response header
// (so name casgate's servers as Exchange names them), and when a backend left and rejoined its pools from casgate's
// admin API (/api/status, polled), which also carries out drain and enable. Killing a CAS or putting it in
// maintenance is the admin's part (Stop-Service, Set-ServerComponentState): the run records what users saw meanwhile.
import { readFileSync } from 'node:fs';
import { request } from 'undici';
import type { ClientTls, FailoverTarget } from './target.js';
import { AvailabilityRecorder, type AvailabilityChange, type EventAction } from './timeline.js';

export interface RemoteOptions {
  /** https://mail.contoso.com or https://127.0.0.1:8443 */
  url: string;
  caFile?: string;
  insecure: boolean;
  /** SNI and Host name; default: the URL's host. */
  servername?: string;
  /** casgate's admin listener, e.g. http://127.0.0.1:9090; without it nothing can be drained and availability is unknown. */
  admin?: string;
  token?: string;
  /** How often /api/status is read (ms). */
  pollMs?: number;
}

interface StatusBody {
  pools: Array<{ name: string; backends: Array<{ name: string; state: string }> }>;
}

/** Remote actions: only what casgate's admin API can do. */
export const REMOTE_ACTIONS: readonly EventAction[] = ['drain', 'enable'];

export class RemoteTarget implements FailoverTarget {
  readonly availability: AvailabilityChange[] = [];
  private sampler?: NodeJS.Timeout;
  private sampling = false;

  private constructor(
    readonly origin: string,
    readonly host: string,
    readonly port: number,
    readonly tls: ClientTls,
    readonly serverNames: string[],
    private readonly opts: RemoteOptions,
  ) {}

  get description(): string {
    return `at ${this.origin}${this.opts.admin ? ` (admin ${this.opts.admin})` : ''}`;
  }

  static async connect(o: RemoteOptions): Promise<RemoteTarget> {
    let url: URL;
    try {
      url = new URL(o.url);
    } catch {
      throw new Error(`--url: not a URL: ${JSON.stringify(o.url)}`);
    }
    if (url.protocol !== 'https:') throw new Error(`--url: casgate publishes Exchange over https, got ${url.protocol}`);
    const servername = o.servername ?? url.hostname;
    const tls: ClientTls = o.insecure ? { servername, rejectUnauthorized: false } : { servername, ...(o.caFile ? { ca: readFileSync(o.caFile, 'utf8') } : {}) };
    const port = Number(url.port || 443);
    const target = new RemoteTarget(url.origin, url.hostname, port, tls, [], o);
    if (o.admin) {
      const status = await target.status();
      target.serverNames.push(...new Set(status.pools.flatMap((p) => p.backends.map((b) => b.name))));
    }
    return target;
  }

  private async status(): Promise<StatusBody> {
    const res = await request(new URL('/api/status', this.opts.admin).href, { headers: this.authHeaders(), headersTimeout: 5000, bodyTimeout: 5000 });
    if (res.statusCode !== 200) {
      await res.body.dump();
      throw new Error(`--admin ${this.opts.admin}: GET /api/status answered ${res.statusCode}`);
    }
    return (await res.body.json()) as StatusBody;
  }

  private authHeaders(): Record<string, string> {
    return this.opts.token ? { authorization: `Bearer ${this.opts.token}` } : {};
  }

  /** Reads /api/status every pollMs and records, per backend, in how many pools it is healthy and enabled. */
  startSampling(t0: number): void {
    if (!this.opts.admin) return;
    const recorder = new AvailabilityRecorder(this.availability);
    const sample = async () => {
      if (this.sampling) return; // a slow admin answer: skip a tick rather than pile up
      this.sampling = true;
      try {
        const status = await this.status();
        recorder.record(
          performance.now() - t0,
          status.pools.flatMap((p) => p.backends.map((b) => ({ backend: b.name, inService: b.state === 'healthy' }))),
        );
      } catch {
        // The admin listener is not the system under test; a missed sample only blurs the timeline.
      } finally {
        this.sampling = false;
      }
    };
    void sample();
    this.sampler = setInterval(() => void sample(), this.opts.pollMs ?? 100);
  }

  async act(action: EventAction, server: string): Promise<void> {
    // The schedule was checked against REMOTE_ACTIONS before the run (validateSchedule).
    if (!this.opts.admin) throw new Error(`${action} ${server}: needs --admin (casgate's admin URL) and --token`);
    const res = await request(new URL(`/api/backends/${encodeURIComponent(server)}/${action}`, this.opts.admin).href, { method: 'POST', headers: this.authHeaders() });
    const body = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`admin POST ${action} ${server}: ${res.statusCode} ${body.trim().slice(0, 200)}`);
  }

  async stop(): Promise<void> {
    if (this.sampler) clearInterval(this.sampler);
  }
}
