// The access log's view of an Outlook Anywhere connection: one record per request head, as IIS logs them (the NTLM
// handshake's 401s, then the channel itself, whose record is written when the channel ends), each with its status,
// bytes, time, user, route and CAS. The tunnel relays bytes without parsing responses, so a head's status is the
// first final status line the CAS sends after it (the tunnel's peek; clients wait for each answer before their next
// head), and its bytes are the connection's counters between heads.
import type { TLSSocket } from 'node:tls';
import type { FailureCode } from '../failure.js';
import type { RequestRecord } from '../logging/request-record.js';
import type { Backend } from '../upstream/backend.js';
import { connectionFacts, type ConnectionFacts } from './connection-facts.js';
import { nextRequestId } from './request-id.js';
import { headerValue, type RpcRequestHead } from './rpc-head.js';

/** How a head's exchange ended when casgate answered it itself, or why the connection ended under it. */
export interface RpcEnd {
  /** casgate's own answer (a refusal): its status and code. */
  status?: number;
  code?: FailureCode;
  detail?: string;
  /** The connection ended (client or CAS closed, error, idle timeout): why, in the tunnel's words. */
  reason?: string;
}

/** The reason an exchange ends when the connection's next head arrives. */
const NEXT_HEAD = 'next head';

interface Exchange {
  readonly requestId: string;
  readonly startedAt: number;
  readonly method: string;
  readonly url: string;
  readonly httpVersion: string;
  readonly userAgent?: string;
  /** An RPC_IN_DATA channel (a body to stream): the CAS answers it only when it ends. */
  readonly inChannel: boolean;
  host?: string;
  route?: string;
  pool?: string;
  status?: number;
  /** performance.now() when that status was seen. */
  statusAt?: number;
}

export class RpcRecords {
  private current?: Exchange;
  /** The CAS the connection is relayed to, once connected (one for its whole life). */
  private backend?: Backend;
  private readonly facts: ConnectionFacts;
  /** The user the connection authenticated as (NTLM names it once, in its type 3 message). */
  user?: string;
  /** The TCP peer (connection-facts.ts), and the client as the tunnel decides it (forwarded-client.ts). */
  readonly peerIp: string;
  clientIp: string;

  constructor(
    private readonly client: TLSSocket,
    private readonly onRecord: ((record: RequestRecord) => void) | undefined,
  ) {
    this.facts = connectionFacts(client);
    this.clientIp = this.peerIp = this.facts.clientIp;
  }

  /**
   * A new head: the previous one's exchange is over. `readAhead`: bytes already read from the client that start with
   * this head (they are its exchange's). Returns the new exchange's request id (sent to the CAS).
   */
  begin(head: Pick<RpcRequestHead, 'method' | 'target' | 'version' | 'contentLength' | 'headers'>, readAhead = 0): string {
    this.end({ reason: NEXT_HEAD }, readAhead);
    const userAgent = headerValue(head, 'user-agent');
    this.current = {
      requestId: nextRequestId(),
      startedAt: performance.now(),
      method: head.method,
      url: head.target,
      httpVersion: head.version.slice(5),
      ...(userAgent !== undefined ? { userAgent } : {}),
      inChannel: head.method === 'RPC_IN_DATA' && head.contentLength > 0,
    };
    return this.current.requestId;
  }

  /** A head that could not be parsed is refused: its record names what the first bytes say, nothing more. */
  beginUnparsed(firstBytes: Buffer): void {
    const method = /^[A-Z_]{1,16}/.exec(firstBytes.toString('latin1', 0, 16))?.[0] ?? '-';
    this.begin({ method: method as RpcRequestHead['method'], target: '', version: 'HTTP/1.1', contentLength: 0, headers: [] }, firstBytes.length);
  }

  /** What routing decided for the current head. */
  routed(host: string | undefined, route?: string, pool?: string): void {
    if (!this.current) return;
    if (host !== undefined) this.current.host = host;
    if (route !== undefined) this.current.route = route;
    if (pool !== undefined) this.current.pool = pool;
  }

  connected(backend: Backend): void {
    this.backend = backend;
  }

  /** The CAS's final status for the current head (the first one seen after it). */
  status(code: number): void {
    if (this.current && this.current.status === undefined) {
      this.current.status = code;
      this.current.statusAt = performance.now();
    }
  }

  /**
   * The current head's exchange is over: at the next head, when casgate refused it, or when the connection ended.
   * Without a status from the CAS, an IN channel ended as channels do (IIS logs it 200: its answer only comes at the
   * end); any other head was cut before its answer: 499 when the client left, else 502.
   */
  end(how: RpcEnd, readAhead = 0): void {
    const x = this.current;
    if (!x) return;
    this.current = undefined;
    if (!this.onRecord) return;
    // A head casgate answered itself never reached the CAS, even on a connection relayed to one.
    const backend = how.status === undefined ? this.backend : undefined;
    let status = how.status ?? x.status;
    let error: FailureCode | undefined = how.code;
    if (status === undefined) {
      // A head sent before the answer to this one (pipelined; no Outlook does it): its answer was not told apart.
      if (how.reason === NEXT_HEAD) status = 0;
      else if (x.inChannel && backend) status = 200;
      else if (how.reason === 'client closed' || how.reason === 'client error') [status, error] = [499, 'CLIENT_ABORTED'];
      else [status, error] = [502, 'UPSTREAM_RESET'];
    }
    const bytesRead = this.client.bytesRead - readAhead;
    const bytesWritten = this.client.bytesWritten;
    const facts = this.facts;
    const detail = how.detail ?? (how.reason && how.reason !== NEXT_HEAD && !/^(client|backend) closed$/.test(how.reason) ? how.reason : undefined);
    // A head answered with an error (the handshake's 401s) is over when its answer comes, whenever the client sends
    // its next head or leaves; a channel (2xx) lasts until it ends.
    const endedAt = how.status === undefined && x.status !== undefined && x.status >= 300 ? x.statusAt! : performance.now();
    this.onRecord({
      startedAt: x.startedAt,
      durationMs: endedAt - x.startedAt,
      clientIp: this.clientIp,
      ...(this.clientIp !== this.peerIp ? { peerIp: this.peerIp } : {}),
      serverIp: facts.serverIp,
      serverPort: facts.serverPort,
      bytesReceived: bytesRead - facts.bytesRead,
      bytesSent: bytesWritten - facts.bytesWritten,
      ...(backend ? { backend: backend.name, backendAddress: `${backend.origin.host}:${backend.origin.port}` } : {}),
      ...(x.route !== undefined ? { route: x.route } : {}),
      ...(x.pool !== undefined ? { pool: x.pool } : {}),
      tlsVersion: facts.tlsVersion,
      sni: facts.sni,
      requestId: x.requestId,
      method: x.method,
      url: x.url,
      host: x.host ?? '',
      httpVersion: x.httpVersion,
      status,
      attempts: backend ? 1 : 0,
      // The tunnel's backend connection is the client connection's own, as a pinned one is.
      pinned: backend !== undefined,
      ...(error !== undefined ? { error } : {}),
      ...(detail !== undefined ? { errorDetail: detail } : {}),
      ...(x.userAgent !== undefined ? { userAgent: x.userAgent } : {}),
      ...(this.user !== undefined ? { user: this.user } : {}),
    });
    facts.bytesRead = bytesRead;
    facts.bytesWritten = bytesWritten;
  }
}
