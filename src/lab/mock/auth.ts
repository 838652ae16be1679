// Windows authentication as IIS does it for Exchange: NTLM and Negotiate authenticate the TCP connection (later
// requests on it run as that user), Basic authenticates one request. Shared by the HTTP handlers and the raw
// RPC_IN_DATA/RPC_OUT_DATA path, so it sees only header values and the connection record.
import type { ClientIdentity, ConnInfo, MockState } from './state.js';
import { buildChallenge, extractNtlm, newServerChallenge, parseNtlm, verifyNtlmV2, type ChallengeTarget } from './ntlm-messages.js';

export type AuthOutcome =
  /** Serve the request as `user` (null = anonymous). */
  | { kind: 'serve'; user: string | null }
  /** 401 carrying this WWW-Authenticate value (an NTLM type 2 challenge). */
  | { kind: 'challenge'; wwwAuthenticate: string }
  /** 401 offering Negotiate and NTLM as two separate header lines, like IIS. */
  | { kind: 'demand' };

/** The two lines IIS sends; Node writes an array as separate header lines. */
export const DEMAND_HEADERS: readonly string[] = ['Negotiate', 'NTLM'];

/** Vdirs whose unauthenticated requests are refused with 401 (others serve anonymous requests). */
const AUTH_REQUIRED = new Set(['ews', 'mapi', 'rpc']);

export function authRequired(vdir: string): boolean {
  return AUTH_REQUIRED.has(vdir);
}

export function clientIdentity(headers: Record<string, string | string[] | undefined>): ClientIdentity {
  const one = (v: string | string[] | undefined): string | null => (Array.isArray(v) ? v.join(', ') : v ?? null);
  return { testClient: one(headers['x-test-client']), forwardedFor: one(headers['x-forwarded-for']) };
}

export interface AuthInput {
  authorization: string | undefined;
  identity: ClientIdentity;
  /** For violation records. */
  path: string;
  required: boolean;
}

export function authenticate(state: MockState, conn: ConnInfo, target: ChallengeTarget, input: AuthInput): AuthOutcome {
  const auth = input.authorization?.trim() ?? '';
  const space = auth.indexOf(' ');
  const scheme = (space === -1 ? auth : auth.slice(0, space)).toLowerCase();
  const token = space === -1 ? '' : auth.slice(space + 1).trim();

  if (scheme === 'basic') {
    // Stateless: the user of this request only; the connection stays as it was. Checked against the directory:
    // a wrong password or an unknown user is a 401, and counts towards the account's lockout.
    const decoded = Buffer.from(token, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) return { kind: 'demand' };
    const user = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1);
    return state.directory.logon(user, '', (expected) => expected === password).ok ? { kind: 'serve', user } : { kind: 'demand' };
  }

  if (scheme === 'ntlm' || scheme === 'negotiate') {
    const raw = extractNtlm(Buffer.from(token, 'base64'));
    const msg = raw ? parseNtlm(raw) : null;
    if (!msg) return { kind: 'demand' };
    const schemeName = scheme === 'ntlm' ? 'NTLM' : 'Negotiate';
    if (msg.type === 1) {
      // A new handshake replaces whatever this connection was authenticated as.
      conn.user = null;
      conn.authClient = null;
      conn.pendingChallenge = newServerChallenge();
      const type2 = buildChallenge(conn.pendingChallenge, msg.flags, target);
      return { kind: 'challenge', wwwAuthenticate: `${schemeName} ${type2.toString('base64')}` };
    }
    if (msg.type === 3) {
      if (!conn.pendingChallenge) {
        // The type 3 answers a challenge this connection never sent: the proxy split the handshake across
        // backend connections (node-http-proxy #362). IIS refuses it; so do we, and count it.
        state.recordViolation({
          kind: 'split-handshake',
          connectionId: conn.id,
          path: input.path,
          detail: `type 3 for ${msg.domain ? msg.domain + '\\' : ''}${msg.user} without a type 2 on this connection`,
        });
        return { kind: 'demand' };
      }
      const challenge = conn.pendingChallenge;
      conn.pendingChallenge = null;
      // What AD does for the CAS: recompute the NTLMv2 response from the stored password and this challenge.
      if (!state.directory.logon(msg.user, msg.domain, (password) => verifyNtlmV2(password, msg, challenge)).ok) return { kind: 'demand' };
      conn.user = msg.domain ? `${msg.domain}\\${msg.user}` : msg.user;
      conn.authClient = input.identity;
      state.counters.ntlmHandshakes++;
      return { kind: 'serve', user: conn.user };
    }
    return { kind: 'demand' };
  }

  if (conn.user !== null) {
    const who = conn.authClient;
    if (who && (who.testClient !== input.identity.testClient || who.forwardedFor !== input.identity.forwardedFor)) {
      // Another client's request rode a connection authenticated by someone else: IIS serves it as the first
      // user (express-ntlm #95). The mock does the same, so the bug is visible, and counts it.
      state.recordViolation({
        kind: 'foreign-client',
        connectionId: conn.id,
        path: input.path,
        detail: `authenticated by ${describe(who)}, request from ${describe(input.identity)}`,
      });
    }
    return { kind: 'serve', user: conn.user };
  }
  return input.required ? { kind: 'demand' } : { kind: 'serve', user: null };
}

function describe(id: ClientIdentity): string {
  return `X-Test-Client=${id.testClient ?? '-'} X-Forwarded-For=${id.forwardedFor ?? '-'}`;
}
