// Requests that Node's HTTP parser accepts: the order here is the order IIS and Exchange apply things in —
// control, scripted faults, anonymous endpoints (health, OWA logon, SSL-required), authentication, then the
// protocol handlers, and the JSON echo for everything else.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { MockContext } from './context.js';
import type { ConnInfo } from './state.js';
import { parseTarget } from './paths.js';
import { drain, exchangeHeaders, send } from './respond.js';
import { answerControl } from './control.js';
import { echo, sendBytes, sendEcho, sendStatic } from './echo.js';
import { answerHealthCheck, isHealthCheck } from './health.js';
import { answerOwa, answerOwaLogon } from './owa.js';
import { authenticate, authRequired, clientIdentity, DEMAND_HEADERS } from './auth.js';
import { answerMapi, isMapiEndpoint } from './mapi.js';
import { answerActiveSync } from './activesync.js';
import { answerEws, isEwsService } from './ews.js';

const UNAUTHORIZED_BODY =
  '<html><head><title>401 - Unauthorized: Access is denied due to invalid credentials.</title></head>' +
  '<body><h2>401 - Unauthorized: Access is denied due to invalid credentials.</h2></body></html>';

const CONTROL_PREFIX = '/__mock/';
/** /__mock/ paths that are data, not control: they take faults and count as requests. */
const DATA_ACTIONS = new Set(['bytes', 'static']);

/**
 * `connOf` finds the connection record of a socket; `controlOnly` is the control port, which serves /__mock/ and
 * nothing else.
 */
export function createRequestHandler(
  ctx: MockContext,
  connOf: (socket: Socket) => ConnInfo | undefined,
  controlOnly: boolean,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    req.on('error', () => undefined);
    res.on('error', () => undefined);
    handle(ctx, connOf, controlOnly, req, res).catch((err: unknown) => {
      // A bug in a handler must cost one response, never the process.
      if (!res.headersSent) send(res, 500, `mock error: ${err instanceof Error ? err.message : String(err)}\n`);
      else res.destroy();
    });
  };
}

async function handle(
  ctx: MockContext,
  connOf: (socket: Socket) => ConnInfo | undefined,
  controlOnly: boolean,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  for (const [k, v] of exchangeHeaders(ctx)) res.setHeader(k, v);
  const t = parseTarget(req.url ?? '/');
  const action = t.lower.startsWith(CONTROL_PREFIX) ? t.lower.slice(CONTROL_PREFIX.length) : null;
  if (action !== null && !DATA_ACTIONS.has(action)) {
    await answerControl(ctx, action, req, res);
    return;
  }
  const conn = connOf(req.socket);
  if (controlOnly || !conn) {
    drain(req);
    send(res, 404, 'the control port serves /__mock/ only\n');
    return;
  }
  const state = ctx.state;
  state.countRequest(conn, t.vdir);
  const requestNo = conn.requests;

  if (state.shouldReset(t.lower)) {
    state.counters.resets++;
    req.socket.destroy();
    return;
  }
  const failWith = state.errorFor(t.lower);
  if (failWith) {
    state.counters.injectedErrors++;
    drain(req);
    send(res, failWith, `injected ${failWith} from ${ctx.name}\n`);
    return;
  }
  const delay = state.latencyFor(t.lower);
  if (delay > 0) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, delay);
      res.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    if (res.destroyed) return;
  }

  if (action === 'static') {
    drain(req);
    sendStatic(res);
    return;
  }
  if (action === 'bytes') {
    drain(req);
    sendBytes(res, t.query.get('size'));
    return;
  }
  if ((req.method === 'GET' || req.method === 'HEAD') && isHealthCheck(t)) {
    drain(req);
    answerHealthCheck(ctx, t, res);
    return;
  }
  if (t.lower.startsWith('/ews/mrsproxy.svc') && !conn.tls) {
    // Seed 000: MRSProxy does not support SSL offloading; IIS answers 403.4 before authentication.
    drain(req);
    send(res, 403, 'SSL required');
    return;
  }
  if (t.vdir === 'owa' && req.method === 'POST' && t.lower === '/owa/auth.owa') {
    await answerOwaLogon(state.directory, req, res);
    return;
  }
  if (t.vdir === 'owa' && answerOwa(t, req, res)) {
    drain(req);
    return;
  }

  const auth = authenticate(state, conn, ctx.ntlmTarget, {
    authorization: req.headers.authorization,
    identity: clientIdentity(req.headers),
    path: t.path,
    required: authRequired(t.vdir),
  });
  if (auth.kind !== 'serve') {
    // Keep the connection: with NTLM the next message of the handshake must arrive on it.
    drain(req);
    res.setHeader('WWW-Authenticate', auth.kind === 'challenge' ? auth.wwwAuthenticate : [...DEMAND_HEADERS]);
    send(res, 401, UNAUTHORIZED_BODY, 'text/html');
    return;
  }
  const user = auth.user;
  const who = { conn, requestNo, user };

  const mapiEndpoint = t.vdir === 'mapi' && req.method === 'POST' ? isMapiEndpoint(t) : null;
  if (mapiEndpoint) {
    await answerMapi(ctx, mapiEndpoint, user, req, res);
    return;
  }
  if (t.vdir === 'activesync' && answerActiveSync(ctx, t, req, res)) return;
  if (isEwsService(t.lower)) {
    await answerEws(ctx, req, res, (body) => sendEcho(ctx, who, req, res, body.length));
    return;
  }
  echo(ctx, who, req, res);
}
