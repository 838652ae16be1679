// OWA forms logon (POST /owa/auth.owa, application/x-www-form-urlencoded): the user name is read from the first bytes
// of the body, which is then passed on to the CAS byte for byte. Only up to MAX_PEEK bytes are held: OWA's form is a
// few hundred bytes with `username` before `password`; a body that is larger, or names no user within the bound, is
// streamed on unread (and not counted).
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';

export const MAX_PEEK = 8 * 1024;

export interface PeekedForm {
  /** The `username` field, decoded; undefined when absent within the bound. */
  username?: string;
  /** What to forward: the whole body when it ended within the bound, else the peeked bytes followed by the rest. */
  body: Buffer | Readable;
  /** The whole body is in `body` (a retry may resend it). */
  complete: boolean;
}

/** The `username` value in a complete or truncated urlencoded body: only when its `&` (or the end) was seen. */
export function usernameIn(text: string, complete: boolean): string | undefined {
  for (const part of text.split('&')) {
    const eq = part.indexOf('=');
    const name = eq === -1 ? part : part.slice(0, eq);
    if (name.toLowerCase() !== 'username') continue;
    // The last field of a truncated body may itself be truncated.
    if (!complete && text.endsWith(part)) return undefined;
    try {
      return decodeURIComponent((eq === -1 ? '' : part.slice(eq + 1)).replace(/\+/g, ' '));
    } catch {
      return undefined;
    }
  }
  return undefined;
}

export function peekOwaForm(req: IncomingMessage): Promise<PeekedForm> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (ended: boolean): void => {
      if (settled) return;
      settled = true;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('close', onClose);
      const head = Buffer.concat(chunks);
      const username = usernameIn(head.toString('latin1'), ended);
      if (ended) return resolve({ username, body: head, complete: true });
      req.pause();
      const rest = async function* (): AsyncGenerator<Buffer> {
        yield head;
        for await (const chunk of req) yield chunk as Buffer;
      };
      resolve({ username, body: Readable.from(rest(), { objectMode: false }), complete: false });
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= MAX_PEEK || usernameIn(Buffer.concat(chunks).toString('latin1'), false) !== undefined) finish(false);
    };
    const onEnd = (): void => finish(true);
    const onClose = (): void => finish(true);
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('close', onClose);
  });
}
