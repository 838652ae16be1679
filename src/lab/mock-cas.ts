// A mock Exchange Client Access Server: the backend of casgate's lab, tests and benchmarks. It answers like a CAS on
// a plain HTTP port, an HTTPS port (its own "Microsoft Exchange" self-signed certificate) and a control port:
// per-vdir healthcheck.htm, OWA logon redirect, NTLM/Negotiate bound to the TCP connection, Outlook Anywhere
// RPC_IN_DATA/RPC_OUT_DATA channels, MAPI over HTTP, ActiveSync Ping and EWS streaming long polls, and a JSON echo
// of everything else. Tests script failures through /__mock/ (see mock/control.ts).
import http from 'node:http';
import net, { type Socket } from 'node:net';
import tls from 'node:tls';
import type { MockContext } from './mock/context.js';
import { mockCertificate, fingerprint256 } from './mock/certificate.js';
import { createRequestHandler } from './mock/http-handler.js';
import { Listener } from './mock/listener.js';
import { MapiSessions } from './mock/mapi-sessions.js';
import { RpcChannels } from './mock/rpc-channels.js';
import { serveRpcConnection } from './mock/rpc.js';
import { sniffRpc } from './mock/rpc-head.js';
import type { DirectoryConfig } from './mock/directory.js';
import { MockState, type ConnInfo, type MockStats } from './mock/state.js';

export type { MockStats } from './mock/state.js';

export interface MockCasOptions {
  /** Server name, e.g. "cas1": X-FEServer, the NetBIOS computer name in NTLM challenges, the certificate SAN. */
  name: string;
  /** Address to listen on (default 127.0.0.1). */
  host?: string;
  /** Plain HTTP port (default 0 = ephemeral). */
  httpPort?: number;
  /** HTTPS port (default 0 = ephemeral). */
  httpsPort?: number;
  /** Control port serving only /__mock/, always up even while "accept" is off (default 0 = ephemeral). */
  controlPort?: number;
  /** FQDN in healthcheck bodies and X-CalculatedBETarget (default <name>.contoso.lab). */
  fqdn?: string;
  /** Certificate and key for HTTPS (default: a self-signed "Microsoft Exchange" certificate, cached per process). */
  tls?: { certPem: string; keyPem: string };
  /** User directory (default: config/lab-users.yaml): who may log on, with which password, and the lockout policy. */
  directory?: DirectoryConfig;
}

export interface MockCas {
  name: string;
  host: string;
  httpPort: number;
  httpsPort: number;
  controlPort: number;
  fqdn: string;
  certificatePem: string;
  /** Node's format ("AB:CD:..."), comparable with tls peerCertificate.fingerprint256. */
  fingerprint256: string;
  stats(): MockStats;
  close(): Promise<void>;
}

/** Node's defaults cut Exchange's long requests (EXCHANGE.md); IIS keeps idle connections 120 s. */
const HTTP_SERVER_OPTIONS: http.ServerOptions = {
  keepAliveTimeout: 120_000,
  requestTimeout: 0,
  headersTimeout: 120_000,
  // Kerberos-in-Negotiate tokens run to tens of kilobytes.
  maxHeaderSize: 64 * 1024,
};

/** How long a new connection may stay silent before its first bytes. */
const SNIFF_TIMEOUT_MS = 120_000;

export async function startMockCas(opts: MockCasOptions): Promise<MockCas> {
  const name = opts.name;
  const host = opts.host ?? '127.0.0.1';
  const fqdn = opts.fqdn ?? `${name}.contoso.lab`;
  const cert = opts.tls ?? mockCertificate(name, fqdn);
  const state = new MockState(name, opts.directory);
  const conns = new WeakMap<Socket, ConnInfo>();
  const sockets = new Set<Socket>();

  const listeners: Listener[] = [];
  const ctx: MockContext = {
    name,
    fqdn,
    state,
    ntlmTarget: {
      domain: state.directory.config.domain,
      computer: name.toUpperCase().slice(0, 15),
      dnsDomain: state.directory.config.dnsDomain,
      dnsComputer: fqdn,
    },
    mapi: new MapiSessions(),
    rpc: new RpcChannels({ state }),
    setAccepting: async (on) => {
      state.accepting = on;
      await Promise.all(listeners.map((l) => (on ? l.start(l.port) : l.stop())));
    },
  };

  // Node's HTTP servers never listen themselves: sockets reach them after the RPC sniff below.
  const httpServer = http.createServer(HTTP_SERVER_OPTIONS, createRequestHandler(ctx, (s) => conns.get(s), false));
  httpServer.on('clientError', (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Socket) => {
    const conn = conns.get(socket);
    const raw = err.rawPacket;
    const at = raw ? Math.max(raw.indexOf('RPC_IN_DATA '), raw.indexOf('RPC_OUT_DATA ')) : -1;
    if (err.code === 'HPE_INVALID_METHOD' && conn && raw && at !== -1) {
      // An RPC method after ordinary requests on one connection: llhttp gave up on it, the RPC path takes over.
      serveRpcConnection(ctx, conn, socket, raw.subarray(at), handToHttp);
      return;
    }
    if (socket.writable && !socket.destroyed) {
      const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
      socket.end(`HTTP/1.1 ${status}\r\nX-FEServer: ${name}\r\nX-CalculatedBETarget: ${fqdn}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    } else {
      socket.destroy();
    }
  });

  function handToHttp(socket: Socket, buffered: Buffer): void {
    if (socket.destroyed) return;
    socket.pause();
    if (buffered.length > 0) socket.unshift(buffered);
    httpServer.emit('connection', socket);
    socket.resume();
  }

  /** Every accepted socket: register it, then read until the first bytes tell RPC from ordinary HTTP. */
  function adopt(socket: Socket, isTls: boolean): void {
    socket.on('error', () => undefined);
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    const conn = state.openConnection(socket, isTls);
    conns.set(socket, conn);
    let seen: Buffer = Buffer.alloc(0);
    // A connection that never sends a byte would otherwise sit here forever (IIS drops it after 120 s).
    const idle = (): void => {
      socket.destroy();
    };
    socket.setTimeout(SNIFF_TIMEOUT_MS, idle);
    const onData = (chunk: Buffer): void => {
      seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
      const kind = sniffRpc(seen);
      if (kind === 'more') return;
      socket.removeListener('data', onData);
      socket.setTimeout(0);
      socket.removeListener('timeout', idle);
      socket.pause();
      if (kind === 'rpc') serveRpcConnection(ctx, conn, socket, seen, handToHttp);
      else handToHttp(socket, seen);
    };
    socket.on('data', onData);
  }

  const plain = net.createServer((socket) => adopt(socket, false));
  const secure = tls.createServer({ cert: cert.certPem, key: cert.keyPem, ALPNProtocols: ['http/1.1'] }, (socket) =>
    adopt(socket, true),
  );
  secure.on('tlsClientError', () => undefined);
  const controlServer = http.createServer(HTTP_SERVER_OPTIONS, createRequestHandler(ctx, () => undefined, true));
  controlServer.on('clientError', (_err, socket: Socket) => socket.destroy());

  const httpListener = new Listener(plain, host);
  const httpsListener = new Listener(secure, host);
  const controlListener = new Listener(controlServer, host);
  listeners.push(httpListener, httpsListener);
  const closeAll = async (): Promise<void> => {
    await Promise.all([httpListener.stop(), httpsListener.stop(), controlListener.stop()]);
    for (const s of sockets) s.destroy();
    controlServer.closeAllConnections();
  };
  try {
    await httpListener.start(opts.httpPort ?? 0);
    await httpsListener.start(opts.httpsPort ?? 0);
    await controlListener.start(opts.controlPort ?? 0);
  } catch (err) {
    await closeAll();
    throw err;
  }

  let closing: Promise<void> | null = null;
  return {
    name,
    host,
    fqdn,
    httpPort: httpListener.port,
    httpsPort: httpsListener.port,
    controlPort: controlListener.port,
    certificatePem: cert.certPem,
    fingerprint256: fingerprint256(cert.certPem),
    stats: () => state.snapshot(),
    close: () => (closing ??= closeAll()),
  };
}
