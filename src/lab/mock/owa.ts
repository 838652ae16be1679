// OWA's anonymous entry points: /owa redirects to the forms logon page, which is a small HTML form, posted to
// /owa/auth.owa (forms-based authentication: username and password in an urlencoded body).
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Directory } from './directory.js';
import type { ParsedTarget } from './paths.js';
import { readBody, send } from './respond.js';

const LOGON_FORM =
  '<!DOCTYPE html><html><head><title>Outlook</title></head><body>' +
  '<form action="/owa/auth.owa" method="POST" name="logonForm">' +
  '<input type="hidden" name="destination" value=""><input type="hidden" name="flags" value="4">' +
  '<input id="username" name="username" type="text"><input id="password" name="password" type="password">' +
  '<input type="submit" value="sign in"></form></body></html>';

/** Handles /owa, /owa/ and /owa/auth/logon.aspx; returns false for every other path. */
export function answerOwa(t: ParsedTarget, req: IncomingMessage, res: ServerResponse): boolean {
  if (t.lower === '/owa' || t.lower === '/owa/') {
    // Exchange builds an https URL from the Host it received (behind offloading it still says https) and
    // escapes it in lower case: url=https%3a%2f%2fmail.contoso.com%2fowa%2f.
    const proto = String(req.headers['x-forwarded-proto'] ?? 'https').split(',')[0]?.trim() || 'https';
    const host = req.headers.host ?? 'localhost';
    const url = encodeURIComponent(`${proto}://${host}/owa/`).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase());
    res.setHeader('Location', `/owa/auth/logon.aspx?url=${url}&reason=0`);
    send(res, 302, '<html><head><title>Object moved</title></head><body></body></html>', 'text/html; charset=utf-8');
    return true;
  }
  if (t.lower === '/owa/auth/logon.aspx') {
    send(res, 200, LOGON_FORM, 'text/html; charset=utf-8');
    return true;
  }
  return false;
}

/** Exchange's lower-case escaping of the url= parameter. */
function owaEscape(url: string): string {
  return encodeURIComponent(url).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase());
}

/**
 * POST /owa/auth.owa: checks username/password against the directory. Success: 302 to `destination` (or /owa/) with
 * the cadata session cookies; failure (wrong password, unknown or locked user): 302 back to the logon page with
 * `reason=2`, as Exchange does.
 */
export async function answerOwaLogon(directory: Directory, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { text } = await readBody(req, 16 * 1024);
  if (res.destroyed) return;
  const form = new URLSearchParams(text);
  const username = form.get('username') ?? '';
  const password = form.get('password') ?? '';
  const proto = String(req.headers['x-forwarded-proto'] ?? 'https').split(',')[0]?.trim() || 'https';
  const host = req.headers.host ?? 'localhost';
  const destination = form.get('destination') || `${proto}://${host}/owa/`;
  const ok = username !== '' && directory.logon(username, '', (expected) => expected === password).ok;
  if (ok) {
    res.setHeader('Set-Cookie', [
      `cadata=${randomBytes(24).toString('base64')}; path=/; secure; HttpOnly`,
      `cadataTTL=${randomBytes(8).toString('base64')}; path=/; secure; HttpOnly`,
    ]);
    res.setHeader('Location', destination);
  } else {
    res.setHeader('Location', `/owa/auth/logon.aspx?url=${owaEscape(destination)}&reason=2`);
  }
  send(res, 302, '<html><head><title>Object moved</title></head><body></body></html>', 'text/html; charset=utf-8');
}
