// The control endpoint, /__mock/*: plain JSON, no auth, on the main ports and on the control port. Tests and the
// lab script a mock's health, latency and failures through it (STYLE.md habit 9).
//
//   GET  /__mock/stats                                     counters (MockStats)
//   POST /__mock/maintenance        {on}                   ServerWideOffline: every healthcheck.htm answers 503
//   POST /__mock/health             {vdir, status, body?, delayMs?} | {vdir, reset: true}   one vdir's probe ("*" = all)
//   POST /__mock/latency            {ms, path?}            delay before response headers for a path prefix (ms 0 removes)
//   POST /__mock/errors             {status, path?, ratio?} answer `status` instead (status 0 removes)
//   POST /__mock/reset-connections  {on, path?}            destroy the connection of matching requests, no answer
//   POST /__mock/accept             {on}                   off: close the main listeners (connections are refused,
//                                                          open ones live on); on: listen again on the same ports
//   POST /__mock/reset                                     clear all of the above and accept again
//   POST /__mock/answer-pings                              answer every held ActiveSync Ping now, as when its heartbeat ends
//   POST /__mock/directory-reset                           unlock every account, forget bad-password counts
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { MockContext } from './context.js';
import { canonicalVdir } from './paths.js';
import { readBody, sendJson } from './respond.js';

type Json = Record<string, unknown>;

class BadRequest extends Error {}

export async function answerControl(ctx: MockContext, action: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { text } = await readBody(req, 64 * 1024);
  if (res.destroyed) return;
  try {
    if (action === 'stats') {
      sendJson(res, 200, ctx.state.snapshot());
      return;
    }
    if (req.method !== 'POST') throw new BadRequest(`use POST for /__mock/${action}`);
    const body = parseJson(text);
    applyControl(ctx, action, body);
    if (action === 'accept' || action === 'reset') await ctx.setAccepting(action === 'reset' ? true : bool(body, 'on'));
    sendJson(res, 200, { ok: true, ...describeScript(ctx) });
  } catch (err) {
    const status = err instanceof BadRequest ? (err.message.startsWith('unknown') ? 404 : 400) : 500;
    sendJson(res, status, { error: err instanceof Error ? err.message : String(err) });
  }
}

function applyControl(ctx: MockContext, action: string, body: Json): void {
  const s = ctx.state;
  switch (action) {
    case 'maintenance':
      s.maintenance = bool(body, 'on');
      return;
    case 'health': {
      const vdir = canonicalVdir(str(body, 'vdir') ?? '');
      if (!vdir) throw new BadRequest('health: vdir must name an Exchange vdir (owa, ecp, ews, mapi, rpc, activesync, oab, autodiscover) or "*"');
      if (body.reset === true) {
        s.health.delete(vdir);
        return;
      }
      s.health.set(vdir, {
        status: int(body, 'status', 100, 599) ?? 200,
        ...(typeof body.body === 'string' ? { body: body.body } : {}),
        ...(body.delayMs !== undefined ? { delayMs: int(body, 'delayMs', 0, 3_600_000) ?? 0 } : {}),
      });
      return;
    }
    case 'latency': {
      const prefix = str(body, 'path') ?? '';
      const ms = int(body, 'ms', 0, 3_600_000) ?? 0;
      s.latency = s.latency.filter((r) => r.prefix !== prefix);
      if (ms > 0) s.latency.push({ prefix, ms });
      return;
    }
    case 'errors': {
      const prefix = str(body, 'path') ?? '';
      const status = body.status === 0 ? 0 : int(body, 'status', 100, 599) ?? 500;
      const ratio = body.ratio === undefined ? 1 : num(body, 'ratio', 0, 1);
      s.errors = s.errors.filter((r) => r.prefix !== prefix);
      if (status !== 0) s.errors.push({ prefix, status, ratio });
      return;
    }
    case 'reset-connections': {
      const prefix = str(body, 'path') ?? '';
      s.resetPrefixes = s.resetPrefixes.filter((p) => p !== prefix);
      if (bool(body, 'on')) s.resetPrefixes.push(prefix);
      return;
    }
    case 'accept':
      bool(body, 'on');
      return;
    case 'reset':
      s.resetScript();
      return;
    case 'answer-pings':
      for (const answer of [...s.heldPings]) answer();
      return;
    case 'directory-reset':
      s.directory.reset();
      return;
    default:
      throw new BadRequest(`unknown control action "${action}"`);
  }
}

function describeScript(ctx: MockContext): Json {
  const s = ctx.state;
  return {
    maintenance: s.maintenance,
    accepting: s.accepting,
    health: Object.fromEntries(s.health),
    latency: s.latency,
    errors: s.errors,
    resetConnections: s.resetPrefixes,
  };
}

function parseJson(text: string): Json {
  if (text.trim() === '') return {};
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new BadRequest('body must be JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new BadRequest('body must be a JSON object');
  return v as Json;
}

function bool(body: Json, key: string): boolean {
  if (typeof body[key] !== 'boolean') throw new BadRequest(`${key}: expected true or false`);
  return body[key] as boolean;
}

function str(body: Json, key: string): string | undefined {
  const v = body[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new BadRequest(`${key}: expected a string`);
  return v;
}

function num(body: Json, key: string, min: number, max: number): number {
  const v = body[key];
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
    throw new BadRequest(`${key}: expected a number from ${min} to ${max}`);
  }
  return v;
}

function int(body: Json, key: string, min: number, max: number): number | undefined {
  if (body[key] === undefined) return undefined;
  const v = num(body, key, min, max);
  if (!Number.isInteger(v)) throw new BadRequest(`${key}: expected an integer from ${min} to ${max}`);
  return v;
}
