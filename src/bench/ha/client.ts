// The clients of an HA run, as one process inside the client network namespace (`ip netns exec <cl> node
// dist/bench/ha/client.js '<json options>'`): steady HTTPS load on the floating address (OWA GETs, EWS POSTs), a few
// ActiveSync Pings held open and Outlook Anywhere RPC channel pairs (on the bench verbs' shared clients, ../clients/),
// and a probe that asks every 100 ms, on a new connection, which node answers (the mock CAS echoes the address casgate
// connected from). It reports what happened as JSON lines on stdout, times from Date.now() so that the parent (another
// process, same clock) can lay them next to its own actions. It stops when stdin closes.
//
// Clients behave as real ones do after a failover: a lost Ping or RPC channel is opened again after 250 ms, a request
// loop whose connection failed tries again after 100 ms, and every reconnect offers the TLS session it had (undici's
// session cache; the session kept per RPC slot), so that the share of resumed handshakes can be counted.
import type { Socket } from 'node:net';
import tls from 'node:tls';
import { buildConnector, Client } from 'undici';
import { ActiveSyncPingClient, pingPath } from '../clients/activesync-ping.js';
import { RpcTunnelClient } from '../clients/rpc-tunnel.js';
import { classifyError, classifyStatus } from '../load/errors.js';

export interface ClientOptions {
  vip: string;
  port: number;
  servername: string;
  ca: string;
  /** Request loops per kind. */
  owaLoops: number;
  ewsLoops: number;
  /** Pause between two requests of one loop (ms): steady, not flooding two shared cores. */
  pauseMs: number;
  pings: number;
  heartbeatMs: number;
  rpcPairs: number;
}

/** One line of the client's report. Times are Date.now() values. */
export type ClientEvent =
  | { e: 'req'; kind: string; sent: number; end: number; ok: boolean; failure?: string; status: number; connect: boolean; connOpened?: number }
  | { e: 'conn'; kind: string; at: number; resumed: boolean }
  | { e: 'probe'; sent: number; end: number; ok: boolean; node?: string; failure?: string }
  | { e: 'lost'; kind: 'activesync' | 'rpc'; slot: number; at: number; failure: string }
  | { e: 'back'; kind: 'activesync' | 'rpc'; slot: number; at: number };

const BASIC = 'Basic YWxpY2VAY29udG9zby5sYWI6UGFzc3cwcmQ=';  // alice@contoso.lab:Passw0rd (config/lab-users.yaml; the mock checks it)
const EWS_BODY = `<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types" xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages">
<soap:Body><m:GetFolder><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id="inbox"/></m:FolderIds></m:GetFolder></soap:Body></soap:Envelope>`;

const emit = (ev: ClientEvent): void => void process.stdout.write(`${JSON.stringify(ev)}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One connection at a time (an undici Client), whose connects are watched: when, resumed or not, failed or not. */
class WatchedClient {
  readonly client: Client;
  connOpened?: number;
  connectFailedAt?: number;

  constructor(o: ClientOptions, kind: string, timeoutMs: number) {
    // One connector per client: its TLS session cache is this client's, as a phone or a browser tab has its own.
    const connector = buildConnector({ ca: o.ca, servername: o.servername, timeout: 1_000 });
    this.client = new Client(`https://${o.vip}:${o.port}`, {
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      keepAliveTimeout: 30_000,
      connect: (opts, cb) =>
        connector(opts, (err, socket) => {
          if (err || !socket) this.connectFailedAt = Date.now();
          else {
            this.connOpened = Date.now();
            emit({ e: 'conn', kind, at: this.connOpened, resumed: (socket as tls.TLSSocket).isSessionReused() });
          }
          // undici's callback types want one of the two overloads.
          if (err) cb(err, null);
          else cb(null, socket as Socket);
        }),
    });
  }
}

/** A Ping in flight: when it was sent, and the timer that counts its slot back once it has been held a second. */
type PingToken = { sent: number; held?: NodeJS.Timeout };

class Clients {
  private running = true;
  private readonly clients: WatchedClient[] = [];
  /** The probes' sockets (the Ping and tunnel clients close their own). */
  private readonly sockets = new Set<tls.TLSSocket>();
  private readonly work: Promise<void>[] = [];
  private readonly pingClient: ActiveSyncPingClient<PingToken>;
  private readonly tunnelClient: RpcTunnelClient;

  constructor(private readonly o: ClientOptions) {
    this.pingClient = this.pings();
    this.tunnelClient = this.tunnels();
  }

  start(): void {
    for (let i = 0; i < this.o.owaLoops; i++) this.work.push(this.requestLoop('owa'));
    for (let i = 0; i < this.o.ewsLoops; i++) this.work.push(this.requestLoop('ews'));
    this.pingClient.start();
    this.tunnelClient.start();
    this.work.push(this.probeLoop());
  }

  private async requestLoop(kind: 'owa' | 'ews'): Promise<void> {
    const w = new WatchedClient(this.o, kind, 4_000);
    this.clients.push(w);
    while (this.running) {
      const sent = Date.now();
      w.connectFailedAt = undefined;
      let status = 0;
      let failure: string | undefined;
      try {
        const res = await w.client.request(
          kind === 'owa'
            ? { method: 'GET', path: '/owa/auth/logon.aspx', headers: { host: this.o.servername } }
            : { method: 'POST', path: '/EWS/Exchange.asmx', headers: { host: this.o.servername, authorization: BASIC, 'content-type': 'text/xml; charset=utf-8' }, body: EWS_BODY },
        );
        status = res.statusCode;
        await res.body.dump({ limit: 1 << 20 });
        failure = classifyStatus(status);
      } catch (err) {
        failure = classifyError(err);
      }
      if (!this.running) return;
      const connect = failure !== undefined && w.connectFailedAt !== undefined;
      emit({ e: 'req', kind, sent, end: Date.now(), ok: !failure, status, connect, ...(failure ? { failure } : {}), ...(w.connOpened && !connect ? { connOpened: w.connOpened } : {}) });
      await sleep(failure ? 100 : this.o.pauseMs);
    }
  }

  /**
   * Phones on the shared Ping client (../clients/activesync-ping.ts), each slot on a connection of its own whose
   * connects are watched: one Ping held at a time; a Ping lost (reset, timeout, 5xx) is sent again after 250 ms.
   */
  private pings(): ActiveSyncPingClient<PingToken> {
    // A Ping is answered when the heartbeat ends; one not answered 3 s later is lost (the node vanished).
    const slots = Array.from({ length: this.o.pings }, () => new WatchedClient(this.o, 'activesync', this.o.heartbeatMs + 3_000));
    this.clients.push(...slots);
    const lost = slots.map(() => false);
    // The replacement counts as back once it has been held a second (taken by a CAS) or answered.
    const back = (slot: number, sent: number) => {
      if (!lost[slot] || !this.running) return;
      lost[slot] = false;
      emit({ e: 'back', kind: 'activesync', slot, at: sent });
    };
    return new ActiveSyncPingClient(
      {
        dispatcher: (slot) => slots[slot]!.client,
        concurrent: this.o.pings,
        heartbeatMs: this.o.heartbeatMs,
        headers: { host: this.o.servername, authorization: BASIC },
      },
      {
        send: (slot) => {
          const sent = Date.now();
          slots[slot]!.connectFailedAt = undefined;
          const held = lost[slot] ? setTimeout(() => back(slot, sent), 1_000) : undefined;
          return { token: { sent, held }, path: pingPath('/Microsoft-Server-ActiveSync', `HA${String(slot).padStart(6, '0')}`, 'user1') };
        },
        ended: (slot, { sent, held }, end, stopped) => {
          clearTimeout(held);
          if (stopped || !this.running) return 0;
          const w = slots[slot]!;
          // Only a 5xx answer loses a Ping here (a 4xx is the CAS's word on the request, and the mock gives none).
          const failure = end.threw ? end.failure : end.status >= 500 ? `status-${end.status}` : undefined;
          const connect = failure !== undefined && w.connectFailedAt !== undefined;
          emit({ e: 'req', kind: 'activesync', sent, end: Date.now(), ok: !failure, status: end.status, connect, ...(failure ? { failure } : {}), ...(w.connOpened && !connect ? { connOpened: w.connOpened } : {}) });
          if (!failure) back(slot, sent);
          else if (!lost[slot]) {
            lost[slot] = true;
            emit({ e: 'lost', kind: 'activesync', slot, at: Date.now(), failure });
          }
          return failure ? 250 : 0;
        },
      },
    );
  }

  /**
   * Outlook Anywhere on the shared tunnel client (../clients/rpc-tunnel.ts): an RPC_IN_DATA and an RPC_OUT_DATA
   * channel; when either closes, both are opened again after 250 ms, offering the slot's TLS session. No idle timeout:
   * the OUT channel is quiet for long stretches in real life too; a node that vanished is noticed when the IN
   * channel's trickle reaches the node that took the address over, which answers it with a reset.
   */
  private tunnels(): RpcTunnelClient {
    const sessions: (Buffer | undefined)[] = [];
    const lost = Array.from({ length: this.o.rpcPairs }, () => false);
    return new RpcTunnelClient(
      {
        connect: (slot) => {
          const session = sessions[slot];
          const s = tls.connect({ host: this.o.vip, port: this.o.port, servername: this.o.servername, ca: this.o.ca, ALPNProtocols: ['http/1.1'], ...(session ? { session } : {}) });
          s.on('session', (t: Buffer) => (sessions[slot] = t));
          s.once('secureConnect', () => emit({ e: 'conn', kind: 'rpc', at: Date.now(), resumed: s.isSessionReused() }));
          return s;
        },
        host: this.o.servername,
        path: '/rpc/rpcproxy.dll?cas1.contoso.com:6001',
        tunnels: this.o.rpcPairs,
        trickleBytes: 64,
        trickleIntervalMs: 250,
        headers: { authorization: BASIC },
      },
      {
        channelId: (slot) => `ha-${process.pid}-${slot}-${Date.now()}`,
        opened: (slot) => {
          if (!lost[slot]) return;
          lost[slot] = false;
          emit({ e: 'back', kind: 'rpc', slot, at: Date.now() });
        },
        ended: (slot, end) => {
          if (end.wasUp && !lost[slot] && this.running) {
            lost[slot] = true;
            const failure = end.error !== undefined ? classifyError(end.error) : 'closed';
            emit({ e: 'lost', kind: 'rpc', slot, at: Date.now(), failure });
          }
          return 250;
        },
      },
    );
  }

  /** Which node answers the address now: a new connection every 100 ms, GET of a path the mock CAS echoes. */
  private async probeLoop(): Promise<void> {
    while (this.running) {
      const sent = Date.now();
      void this.probe(sent);
      await sleep(100);
    }
  }

  private probe(sent: number): Promise<void> {
    return new Promise((resolve) => {
      let body = '';
      let finished = false;
      const s = tls.connect({ host: this.o.vip, port: this.o.port, servername: this.o.servername, ca: this.o.ca });
      this.sockets.add(s);
      const finish = (ok: boolean, failure?: string, node?: string) => {
        if (finished) return;
        finished = true;
        clearTimeout(deadline);
        s.destroy();
        this.sockets.delete(s);
        if (this.running) emit({ e: 'probe', sent, end: Date.now(), ok, ...(node ? { node } : {}), ...(failure ? { failure } : {}) });
        resolve();
      };
      const deadline = setTimeout(() => finish(false, 'timeout'), 800);
      s.once('secureConnect', () => s.write(`GET /Autodiscover/ha-probe HTTP/1.1\r\nHost: ${this.o.servername}\r\nConnection: close\r\n\r\n`));
      s.on('data', (d: Buffer) => (body += d.toString('utf8')));
      s.on('error', (err) => finish(false, classifyError(err)));
      s.on('end', () => {
        const node = /"remoteAddress":\s*"(?:::ffff:)?([^"]+)"/.exec(body)?.[1];
        finish(/^HTTP\/1\.1 200/.test(body) && node !== undefined, node ? undefined : 'no-echo', node);
      });
    });
  }

  async stop(): Promise<void> {
    this.running = false;
    this.tunnelClient.stop();
    for (const s of this.sockets) s.destroy();
    // Stopped before its connections close, so that the Pings they cut are not reported as lost.
    await this.pingClient.stop();
    await Promise.all(this.clients.map((w) => w.client.destroy().catch(() => undefined)));
  }
}

const options = JSON.parse(process.argv[2] ?? '{}') as ClientOptions;
const clients = new Clients(options);
clients.start();
process.stdout.write(`${JSON.stringify({ e: 'started', at: Date.now() })}\n`);
const stop = () => void clients.stop().then(() => process.exit(0));
process.stdin.on('end', stop).on('close', stop).resume();
process.on('SIGTERM', stop);
