// An NTLM handshake on one undici Client (one TCP connection), as a browser or Outlook does it: type 1, read the
// server's type 2 challenge, answer with a type 3 computed from the password (NTLMv2).
import type { Client } from 'undici';
import { buildAuthenticate, buildNegotiate } from '../../src/lab/mock/ntlm-messages.js';

export interface NtlmCredentials {
  domain: string;
  user: string;
  password: string;
}

export async function ntlmHandshake(
  client: Client,
  path: string,
  creds: NtlmCredentials,
  { scheme = 'NTLM', headers = {} }: { scheme?: 'NTLM' | 'Negotiate'; headers?: Record<string, string> } = {},
): Promise<{ status: number; text: string }> {
  const base = { host: 'mail.contoso.lab', ...headers };
  const first = await client.request({ path, method: 'GET', headers: { ...base, authorization: `${scheme} ${buildNegotiate().toString('base64')}` } });
  await first.body.text();
  const challengeHeader = ([] as string[]).concat(first.headers['www-authenticate'] ?? []).find((v) => v.startsWith(`${scheme} `));
  if (first.statusCode !== 401 || !challengeHeader) throw new Error(`expected a ${scheme} challenge, got ${first.statusCode}`);
  const challenge = Buffer.from(challengeHeader.slice(scheme.length + 1), 'base64');
  const type3 = buildAuthenticate(creds.domain, creds.user, 'WS01', { password: creds.password, challenge });
  const second = await client.request({ path, method: 'GET', headers: { ...base, authorization: `${scheme} ${type3.toString('base64')}` } });
  return { status: second.statusCode, text: await second.body.text() };
}
