// Outlook Anywhere (RPC over HTTP, MS-RPCH) on /rpc/rpcproxy.dll, spoken over raw sockets because Node's HTTP
// parser refuses the methods. A connection carries small RPC_IN_DATA/RPC_OUT_DATA requests for the NTLM handshake
// (401s with keep-alive), then becomes one channel:
//   IN   RPC_IN_DATA with Content-Length 1 GiB: the client streams for hours; the server reads and says nothing.
//   OUT  RPC_OUT_DATA with a small body (CONN/A1, 76 bytes): the server answers "200 Success" with Content-Length
//        1 GiB at once, sends a first PDU, then streams.
// The mock echoes every byte received on an IN channel out of the paired OUT channel, so a test can check that a
// proxy tunnels both directions without buffering. Channels pair by the X-RPC-Channel-Id header, else by the RTS
// virtual connection cookie at the start of both bodies, else all land on one shared pair ("-").
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import type { MockContext } from './context.js';
import type { ConnInfo } from './state.js';
import { authenticate, clientIdentity, DEMAND_HEADERS } from './auth.js';
import { parseHead, virtualConnectionCookie, type RequestHead } from './rpc-head.js';
import { parseTarget } from './paths.js';
import { RPC_CHANNEL_LENGTH, RPC_OUT_FIRST_PDU } from './rpc-channels.js';

/** Bodies read whole before answering (handshake requests, OUT's CONN/A1); larger ones on 401 close the connection. */
const SMALL_BODY = 64 * 1024;

type Phase =
  | { kind: 'head' }
  /** Reading a small body to discard (after a 401) or to keep (OUT's CONN/A1), then act. */
  | { kind: 'body'; left: number; keep: Buffer[]; then: (body: Buffer) => void }
  | { kind: 'in'; left: number; key: string | null; probe: Buffer[]; probeBytes: number }
  | { kind: 'out' }
  | { kind: 'paused' }
  | { kind: 'closed' };

/**
 * Serve one connection that started with an RPC method. `initial` holds bytes already read from it. `handoff`
 * gives the socket back to the HTTP server when a request with an ordinary method follows.
 */
export function serveRpcConnection(
  ctx: MockContext,
  conn: ConnInfo,
  socket: Socket,
  initial: Buffer,
  handoff: (socket: Socket, buffered: Buffer) => void,
): void {
  let buf = initial;
  let phase: Phase = { kind: 'head' };
  socket.setNoDelay(true);

  const close = (response?: string): void => {
    phase = { kind: 'closed' };
    socket.removeListener('data', onData);
    if (response !== undefined && socket.writable) socket.end(response);
    else socket.destroy();
  };

  const respond = (status: string, headers: [string, string][], body = '', keepAlive = true): string => {
    const lines = [`HTTP/1.1 ${status}`];
    for (const [k, v] of [...baseHeaders(ctx), ...headers]) lines.push(`${k}: ${v}`);
    if (!headers.some(([k]) => k.toLowerCase() === 'content-length')) lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
    if (!keepAlive) lines.push('Connection: close');
    return `${lines.join('\r\n')}\r\n\r\n${body}`;
  };

  const badRequest = (reason: string): void => close(respond('400 Bad Request', [['Content-Type', 'text/plain']], `${reason}\r\n`, false));

  const onHead = (head: RequestHead): void => {
    const t = parseTarget(head.target);
    ctx.state.countRequest(conn, t.vdir);
    const keepAlive = head.contentLength <= SMALL_BODY && head.headers.connection?.toLowerCase() !== 'close';
    const discardThen = (next: () => void): void => {
      phase = { kind: 'body', left: head.contentLength, keep: [], then: next };
    };

    if (ctx.state.shouldReset(t.lower)) {
      ctx.state.counters.resets++;
      close();
      return;
    }
    const failWith = ctx.state.errorFor(t.lower);
    if (failWith) {
      ctx.state.counters.injectedErrors++;
      close(respond(`${failWith} Injected`, [['Content-Type', 'text/plain']], `injected ${failWith} from ${ctx.name}\r\n`, false));
      return;
    }
    // HTTP.sys answers `Expect: 100-continue` itself as soon as the head is in, before IIS looks at the request (a
    // real client, impacket's, waits for it before sending CONN/A1, even on the NTLM handshake's requests).
    if (head.contentLength > 0 && head.headers.expect?.toLowerCase() === '100-continue') socket.write('HTTP/1.1 100 Continue\r\n\r\n');
    if (t.lower !== '/rpc/rpcproxy.dll') {
      const answer = respond('404 Not Found', [['Content-Type', 'text/plain']], 'RPC methods are served on /rpc/rpcproxy.dll\r\n', keepAlive);
      if (!keepAlive) close(answer);
      else discardThen(() => socket.write(answer));
      return;
    }
    const auth = authenticate(ctx.state, conn, ctx.ntlmTarget, {
      authorization: head.headers.authorization,
      identity: clientIdentity(head.headers),
      path: t.path,
      required: true,
    });
    if (auth.kind !== 'serve') {
      const wwwAuth: [string, string][] =
        auth.kind === 'challenge' ? [['WWW-Authenticate', auth.wwwAuthenticate]] : DEMAND_HEADERS.map((v) => ['WWW-Authenticate', v]);
      const answer = respond('401 Unauthorized', [['Content-Type', 'text/html'], ...wwwAuth], '401 - Unauthorized\r\n', keepAlive);
      // A 1 GiB channel request sent without credentials: answer and close rather than read a gigabyte.
      if (!keepAlive) close(answer);
      else discardThen(() => socket.write(answer));
      return;
    }
    const explicitKey = head.headers['x-rpc-channel-id'] ?? null;
    if (head.method === 'RPC_IN_DATA') {
      ctx.state.rpcChannels.in++;
      let counted = true;
      const uncount = (): void => {
        if (counted) ctx.state.rpcChannels.in--;
        counted = false;
      };
      socket.once('close', uncount);
      phase = { kind: 'in', left: head.contentLength, key: explicitKey, probe: [], probeBytes: 0 };
      if (explicitKey !== null) socket.once('close', () => ctx.rpc.releaseIn(explicitKey, socket));
      if (head.contentLength === 0) finishIn(uncount);
      else inFinisher = uncount;
      return;
    }
    // RPC_OUT_DATA: read CONN/A1, then open the response and keep it open.
    if (head.contentLength > SMALL_BODY) {
      badRequest('RPC_OUT_DATA bodies are small (CONN/A1 is 76 bytes)');
      return;
    }
    phase = {
      kind: 'body',
      left: head.contentLength,
      keep: [],
      then: (body) => {
        const key = explicitKey ?? virtualConnectionCookie(body) ?? '-';
        phase = { kind: 'out' };
        socket.write(
          respond('200 Success', [
            ['Content-Type', 'application/rpc'],
            ['Content-Length', String(RPC_CHANNEL_LENGTH)],
            ['Cache-Control', 'private'],
          ]),
        );
        socket.write(RPC_OUT_FIRST_PDU);
        ctx.state.counters.rpcBytesOut += RPC_OUT_FIRST_PDU.length;
        ctx.state.rpcChannels.out++;
        socket.once('close', () => ctx.state.rpcChannels.out--);
        ctx.rpc.attachOut(key, socket);
        // Keep-alive trickle for idle-timeout tests: X-Test-Keepalive-Ms sends an RTS Ping at that interval.
        const keepaliveMs = Number(head.headers['x-test-keepalive-ms']);
        if (Number.isFinite(keepaliveMs) && keepaliveMs >= 1) {
          const timer = setInterval(() => ctx.rpc.ping(key), keepaliveMs);
          socket.once('close', () => clearInterval(timer));
        }
      },
    };
  };

  /** A request whose body is empty completes as soon as its head is handled. */
  const settleEmptyBody = (): void => {
    if (phase.kind === 'body' && phase.left === 0) {
      const b = phase;
      phase = { kind: 'head' };
      b.then(Buffer.alloc(0));
    }
  };

  let inFinisher: (() => void) | null = null;
  const finishIn = (uncount: () => void): void => {
    // The whole Content-Length arrived: the channel ends and the server finally answers it.
    uncount();
    inFinisher = null;
    phase = { kind: 'head' };
    socket.write(respond('200 Success', [['Content-Type', 'application/rpc']]));
  };

  const deliverIn = (p: Extract<Phase, { kind: 'in' }>, chunk: Buffer): void => {
    if (p.key === null) {
      // No X-RPC-Channel-Id: wait for the first 48 bytes (CONN/B1's cookie) or the end of the body to choose.
      p.probe.push(chunk);
      p.probeBytes += chunk.length;
      if (p.probeBytes < 48 && p.left > 0) return;
      const first = Buffer.concat(p.probe);
      const key = virtualConnectionCookie(first) ?? '-';
      p.key = key;
      p.probe = [];
      socket.once('close', () => ctx.rpc.releaseIn(key, socket));
      ctx.rpc.deliverIn(p.key, first, socket);
      return;
    }
    ctx.rpc.deliverIn(p.key, chunk, socket);
  };

  const pump = (): void => {
    while (buf.length > 0) {
      const p = phase;
      if (p.kind === 'closed' || p.kind === 'paused') return;
      if (p.kind === 'out') {
        buf = Buffer.alloc(0); // nothing more is expected from the client on an OUT channel
        return;
      }
      if (p.kind === 'in' || p.kind === 'body') {
        const n = Math.min(p.left, buf.length);
        const chunk = buf.subarray(0, n);
        buf = buf.subarray(n);
        p.left -= n;
        if (p.kind === 'in') {
          deliverIn(p, chunk);
          if (p.left === 0) finishIn(inFinisher ?? (() => undefined));
        } else {
          p.keep.push(chunk);
          if (p.left === 0) {
            phase = { kind: 'head' };
            p.then(Buffer.concat(p.keep));
          }
        }
        continue;
      }
      const r = parseHead(buf);
      if (r.kind === 'more') return;
      if (r.kind === 'bad') {
        badRequest(r.reason);
        return;
      }
      if (r.head.method !== 'RPC_IN_DATA' && r.head.method !== 'RPC_OUT_DATA') {
        // An ordinary request after the RPC ones: Node's HTTP server can take it from here.
        phase = { kind: 'closed' };
        socket.removeListener('data', onData);
        handoff(socket, buf);
        return;
      }
      buf = buf.subarray(r.head.headLength);
      const head = r.head;
      const delay = ctx.state.latencyFor(parseTarget(head.target).lower);
      if (delay > 0) {
        // Scripted latency before the response head: stop reading until it has passed.
        phase = { kind: 'paused' };
        socket.pause();
        const timer = setTimeout(() => {
          phase = { kind: 'head' };
          onHead(head);
          settleEmptyBody();
          socket.resume();
          pump();
        }, delay);
        socket.once('close', () => clearTimeout(timer));
        return;
      }
      onHead(head);
      settleEmptyBody();
    }
  };

  function onData(chunk: Buffer): void {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    pump();
  }

  socket.on('data', onData);
  pump();
  socket.resume();
}

function baseHeaders(ctx: MockContext): [string, string][] {
  return [
    ['Date', new Date().toUTCString()],
    ['Server', 'Microsoft-IIS/10.0'],
    ['X-FEServer', ctx.name],
    ['X-CalculatedBETarget', ctx.fqdn],
    ['request-id', randomUUID()],
  ];
}
