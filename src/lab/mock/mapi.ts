// MAPI over HTTP (MS-OXCMAPIHTTP) on /mapi/emsmdb and /mapi/nspi: POSTs typed by X-RequestType, a session held in
// the MapiContext/MapiSequence cookies, and response bodies that start with the PROCESSING / PENDING / DONE
// meta-tags. NotificationWait is the long poll: PENDING every X-PendingPeriod until an event or the hold ends,
// which a buffering proxy breaks.
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { MockContext } from './context.js';
import type { MapiSession } from './mapi-sessions.js';
import type { ParsedTarget } from './paths.js';
import { headerMs, readBody, send } from './respond.js';

// In Exchange 2013 and later a MAPI session lives on the mailbox server behind every CAS, so a session opened
// through cas1 goes on working through cas2 (no affinity needed). Mock CAS processes share no memory; they model
// this by signing the context ids they hand out with a key all of them know, and adopting a signed context they
// did not create.
const SHARED_SESSION_KEY = 'casgate-lab-mailbox-server';

function signedContext(endpoint: string): string {
  const id = randomUUID();
  return `${id}.${createHmac('sha256', SHARED_SESSION_KEY).update(`${id}/${endpoint}`).digest('base64url').slice(0, 16)}`;
}

function isSignedContext(context: string, endpoint: string): boolean {
  const [id, sig] = context.split('.');
  return !!id && !!sig && createHmac('sha256', SHARED_SESSION_KEY).update(`${id}/${endpoint}`).digest('base64url').slice(0, 16) === sig;
}

/** MapiSequence `<n>.<signature over context and n>`: any CAS can check it; the counter exposes replays. */
function sequenceCookie(context: string, n: number): string {
  return `${n}.${createHmac('sha256', SHARED_SESSION_KEY).update(`${context}#${n}`).digest('base64url').slice(0, 16)}`;
}

function sequenceNumber(context: string, cookie: string | undefined): number | undefined {
  const n = Number(cookie?.split('.')[0]);
  return Number.isInteger(n) && cookie === sequenceCookie(context, n) ? n : undefined;
}

/** X-ResponseCode values (MS-OXCMAPIHTTP 2.2.3.3.3) the mock uses. */
const RC = { ok: 0, missingHeader: 7, contextNotFound: 10, invalidSequence: 15, missingCookie: 13 } as const;

const DEFAULT_PENDING_MS = 15_000;
/** NotificationWait is held at most 5 minutes by Exchange. */
const DEFAULT_HOLD_MS = 300_000;

export function isMapiEndpoint(t: ParsedTarget): 'emsmdb' | 'nspi' | null {
  const p = t.lower.replace(/\/+$/, '');
  if (p === '/mapi/emsmdb') return 'emsmdb';
  if (p === '/mapi/nspi') return 'nspi';
  return null;
}

export async function answerMapi(
  ctx: MockContext,
  endpoint: 'emsmdb' | 'nspi',
  user: string | null,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const requestType = String(req.headers['x-requesttype'] ?? '');
  const { length } = await readBody(req, 0);
  if (res.destroyed) return;
  res.setHeader('X-RequestType', requestType);
  for (const h of ['x-requestid', 'x-clientinfo']) {
    const v = req.headers[h];
    if (typeof v === 'string') res.setHeader(h === 'x-requestid' ? 'X-RequestId' : 'X-ClientInfo', v);
  }
  res.setHeader('X-ServerApplication', 'Exchange/15.02.1544.004');
  if (!requestType) {
    fail(res, RC.missingHeader, 'X-RequestType header is required');
    return;
  }
  const type = requestType.toLowerCase();
  const pendingMs = headerMs(req, 'x-test-pending-ms') ?? DEFAULT_PENDING_MS;
  res.setHeader('X-PendingPeriod', String(pendingMs));
  res.setHeader('X-ExpirationInfo', '900000');

  if ((endpoint === 'emsmdb' && type === 'connect') || (endpoint === 'nspi' && type === 'bind')) {
    const context = signedContext(endpoint);
    const session: MapiSession = { endpoint, sequence: 1, user };
    ctx.mapi.byContext.set(context, session);
    const path = `/mapi/${endpoint}/`;
    res.setHeader('Set-Cookie', [
      `MapiContext=${context}; path=${path}; HttpOnly`,
      `MapiSequence=${sequenceCookie(context, session.sequence)}; path=${path}; HttpOnly`,
      `MapiRouting=${randomBytes(12).toString('base64url')}; path=${path}; HttpOnly`,
    ]);
    finish(res, endpoint === 'emsmdb' ? connectBody(ctx) : statusBody());
    return;
  }

  const cookies = parseCookies(req.headers.cookie);
  const contextId = cookies.get('MapiContext');
  if (!contextId) {
    fail(res, RC.missingCookie, 'MapiContext cookie is required');
    return;
  }
  let session = ctx.mapi.byContext.get(contextId);
  if (!session && isSignedContext(contextId, endpoint)) {
    // Opened through another CAS: take it over from the sequence the client holds.
    session = { endpoint, sequence: sequenceNumber(contextId, cookies.get('MapiSequence')) ?? 1, user };
    ctx.mapi.byContext.set(contextId, session);
  }
  if (!session || session.endpoint !== endpoint) {
    fail(res, RC.contextNotFound, 'the MapiContext cookie names no session on this server');
    return;
  }

  if (type === 'notificationwait') {
    holdNotificationWait(ctx, req, res, pendingMs);
    return;
  }
  if (type === 'disconnect' || type === 'unbind') {
    ctx.mapi.byContext.delete(contextId);
    finish(res, statusBody());
    return;
  }
  // Execute and the NSPI calls: the sequence cookie must be the one handed out last (an altered or replayed
  // cookie is what a proxy that mixes sessions produces); each answer hands out the next.
  const presented = sequenceNumber(contextId, cookies.get('MapiSequence'));
  if (presented === undefined || presented < session.sequence) {
    fail(res, RC.invalidSequence, 'MapiSequence cookie does not match the session');
    return;
  }
  session.sequence = presented + 1;
  res.setHeader('Set-Cookie', `MapiSequence=${sequenceCookie(contextId, session.sequence)}; path=/mapi/${endpoint}/; HttpOnly`);
  res.setHeader('X-Test-Request-Body-Length', String(length));
  finish(res, type === 'execute' ? executeBody() : statusBody());
}

function holdNotificationWait(ctx: MockContext, req: IncomingMessage, res: ServerResponse, pendingMs: number): void {
  const holdMs = headerMs(req, 'x-test-hold-ms') ?? DEFAULT_HOLD_MS;
  start(res);
  ctx.state.longPolls.mapi++;
  const started = Date.now();
  const pending = setInterval(() => {
    if (!res.destroyed) res.write('PENDING\r\n');
  }, pendingMs);
  const done = setTimeout(() => {
    clearInterval(pending);
    writeDone(res, started, notificationWaitBody());
  }, holdMs);
  res.once('close', () => {
    clearInterval(pending);
    clearTimeout(done);
    ctx.state.longPolls.mapi--;
  });
}

/** Headers and the PROCESSING tag, flushed at once (chunked: the length is not known yet). */
function start(res: ServerResponse): void {
  res.statusCode = 200;
  res.setHeader('Content-Type', 'application/mapi-http');
  res.setHeader('X-ResponseCode', String(RC.ok));
  res.socket?.setNoDelay(true);
  res.write('PROCESSING\r\n');
}

function writeDone(res: ServerResponse, started: number, body: Buffer): void {
  if (res.destroyed || res.writableEnded) return;
  res.write('DONE\r\n');
  res.write(`X-ResponseCode: 0\r\nX-ElapsedTime: ${Date.now() - started}\r\nX-StartTime: ${new Date(started).toUTCString()}\r\n\r\n`);
  res.end(body);
}

function finish(res: ServerResponse, body: Buffer): void {
  const started = Date.now();
  start(res);
  writeDone(res, started, body);
}

function fail(res: ServerResponse, code: number, message: string): void {
  res.setHeader('X-ResponseCode', String(code));
  send(res, 400, `${message}\r\n`, 'text/html');
}


export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) out.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  return out;
}

function u32(...values: number[]): Buffer {
  const b = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => b.writeUInt32LE(v >>> 0, i * 4));
  return b;
}

/** Connect response body (2.2.4.1.2): status, error code, polling and retry hints, DN prefix, display name, aux size. */
function connectBody(ctx: MockContext): Buffer {
  return Buffer.concat([
    u32(0, 0, 60_000, 10_000, 6, 10_000),
    Buffer.from(`/o=Contoso/ou=Exchange Administrative Group/cn=Configuration/cn=Servers/cn=${ctx.name}\0`, 'latin1'),
    Buffer.from(`${ctx.name}\0`, 'utf16le'),
    u32(0),
  ]);
}

/** Execute response body: status, error code, flags, an empty ROP buffer, no auxiliary buffer. */
function executeBody(): Buffer {
  return u32(0, 0, 0, 0, 0);
}

/** NotificationWait response body: status, error code, EventPending = 0, no auxiliary buffer. */
function notificationWaitBody(): Buffer {
  return u32(0, 0, 0, 0);
}

function statusBody(): Buffer {
  return u32(0, 0, 0);
}
