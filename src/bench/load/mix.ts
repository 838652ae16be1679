// Workloads: what the next request is. A single URL, or an Exchange mix whose request shares, held ActiveSync Pings and
// RPC tunnels come from a JSON or YAML file. Stateful kinds keep their state here: MAPI sessions carry the
// MapiContext/MapiSequence cookies that their Connect set.
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

export const REQUEST_KINDS = ['get', 'owa', 'ews', 'mapi', 'oab'] as const;
export type RequestKind = (typeof REQUEST_KINDS)[number];

const RequestShare = z.object({
  /** get: `method path` as given; owa: GET /owa/; ews: SOAP POST /EWS/Exchange.asmx; mapi: Execute POSTs on sessions opened
   *  by a Connect; oab: GET of an offline address book file. */
  kind: z.enum(REQUEST_KINDS),
  /** Relative share of the request load (any positive numbers; they are normalised). */
  share: z.number().positive(),
  /** Path to request (default per kind). */
  path: z.string().startsWith('/').optional(),
  method: z.string().min(1).optional(),
  headers: z.record(z.string(), z.string()).optional(),
  body: z.string().optional(),
});

export const MixSchema = z.object({
  /** Target URL (origin); `--url` overrides it. */
  url: z.string().url().optional(),
  /** Mailbox used in MAPI and ActiveSync URLs (default user1@contoso.com). */
  user: z.string().default('user1@contoso.com'),
  /** Headers sent with every request, ActiveSync Ping and RPC channel, e.g. `authorization: Basic ...` (Exchange
   *  answers 401 to EWS, MAPI and RPC without credentials). */
  headers: z.record(z.string(), z.string()).default({}),
  requests: z.array(RequestShare).default([]),
  /** ActiveSync Pings held open side by side with the request load; each is sent again as soon as it is answered. */
  activesync: z
    .object({
      /** Pings held at once, in total across workers (default 0). */
      concurrent: z.number().int().nonnegative().default(0),
      /** Sent as X-Test-Heartbeat-Ms: how long the mock CAS holds each Ping (default 30000). */
      heartbeatMs: z.number().int().positive().default(30_000),
      path: z.string().startsWith('/').default('/Microsoft-Server-ActiveSync'),
    })
    .optional(),
  /** Outlook Anywhere tunnels: an RPC_IN_DATA and an RPC_OUT_DATA channel each, over raw sockets. */
  rpc: z
    .object({
      /** Tunnels in total across workers (default 0). */
      tunnels: z.number().int().nonnegative().default(0),
      /** Bytes written on each IN channel per interval (default 64). */
      trickleBytes: z.number().int().positive().default(64),
      /** Interval between trickles in ms (default 1000). */
      trickleIntervalMs: z.number().int().positive().default(1000),
      path: z.string().startsWith('/').default('/rpc/rpcproxy.dll?cas1.contoso.com:6001'),
    })
    .optional(),
});
export type MixSpec = z.infer<typeof MixSchema>;

/** Reads a mix file (YAML or JSON); errors name the offending key. */
export async function loadMixFile(file: string): Promise<MixSpec> {
  const text = await readFile(file, 'utf8');
  const raw: unknown = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  const parsed = MixSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue ? issue.path.join('.') || '(root)' : '(root)';
    throw new Error(`${file}: ${where}: ${issue?.message ?? 'invalid'}`);
  }
  if (parsed.data.requests.length === 0 && !parsed.data.activesync?.concurrent && !parsed.data.rpc?.tunnels) {
    throw new Error(`${file}: the mix has no requests, Pings or tunnels`);
  }
  return parsed.data;
}

export interface RequestSpec {
  kind: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | Buffer;
  /** Sees the response head (status, headers); stateful kinds update their state here. */
  onResponse?: (status: number, headers: IncomingHttpHeaders) => void;
  /** Called once when the request ends, with or without an error. */
  onEnd?: (failed: boolean) => void;
}

export interface RequestSource {
  next(): RequestSpec;
}

/** Every request is the same: no allocation per request. */
export function singleUrlSource(path: string, method = 'GET', headers: Record<string, string> = {}, body?: string): RequestSource {
  const spec: RequestSpec = { kind: 'get', method, path, headers, ...(body !== undefined ? { body } : {}) };
  return { next: () => spec };
}

const EWS_GETFOLDER = `<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types" xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages">
  <soap:Header><t:RequestServerVersion Version="Exchange2016"/></soap:Header>
  <soap:Body>
    <m:GetFolder>
      <m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape>
      <m:FolderIds><t:DistinguishedFolderId Id="inbox"/></m:FolderIds>
    </m:GetFolder>
  </soap:Body>
</soap:Envelope>`;

/** Cookie values from Set-Cookie lines, by name (attributes dropped). */
export function cookiesFrom(setCookie: string | string[] | undefined, into: Map<string, string>): void {
  if (!setCookie) return;
  for (const line of Array.isArray(setCookie) ? setCookie : [setCookie]) {
    const pair = line.split(';', 1)[0] ?? '';
    const eq = pair.indexOf('=');
    if (eq > 0) into.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
  }
}

/** A MAPI/HTTP session: a Connect first, then Execute requests carrying the cookies the server last set. */
export class MapiSession {
  readonly cookies = new Map<string, string>();
  connected = false;
  private readonly clientInfo = `{${randomUUID()}}`;
  private seq = 0;
  constructor(
    private readonly path: string,
    private readonly common: Record<string, string> = {},
  ) {}

  request(): RequestSpec {
    const type = this.connected ? 'Execute' : 'Connect';
    const headers: Record<string, string> = {
      ...this.common,
      'content-type': 'application/mapi-http',
      'x-requesttype': type,
      'x-requestid': `${this.clientInfo}:${++this.seq}`,
      'x-clientinfo': `${this.clientInfo}:1`,
      'x-clientapplication': 'Outlook/16.0.17928.20114',
    };
    if (this.cookies.size > 0) headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    return {
      kind: type === 'Connect' ? 'mapi-connect' : 'mapi',
      method: 'POST',
      path: this.path,
      headers,
      body: Buffer.alloc(type === 'Connect' ? 64 : 256, 0x4d),
      onResponse: (status, h) => {
        if (status >= 200 && status < 300) {
          cookiesFrom(h['set-cookie'], this.cookies);
          this.connected = true;
        } else {
          this.connected = false;
          this.cookies.clear();
        }
      },
    };
  }
}

/**
 * Picks kinds by smooth weighted round robin (nginx's algorithm): exact shares over any window, no randomness,
 * so two runs send the same sequence.
 */
export class MixSource implements RequestSource {
  private readonly entries: { spec: z.infer<typeof RequestShare>; weight: number; current: number }[];
  private readonly total: number;
  private readonly idleMapi: MapiSession[] = [];
  private readonly fixed = new Map<number, RequestSpec>();

  constructor(private readonly mix: MixSpec) {
    this.entries = mix.requests.map((spec) => ({ spec, weight: spec.share, current: 0 }));
    this.total = this.entries.reduce((s, e) => s + e.weight, 0);
  }

  next(): RequestSpec {
    let best = 0;
    for (let i = 0; i < this.entries.length; i++) {
      const e = this.entries[i]!;
      e.current += e.weight;
      if (e.current > this.entries[best]!.current) best = i;
    }
    const chosen = this.entries[best]!;
    chosen.current -= this.total;
    return this.build(best, chosen.spec);
  }

  private build(index: number, s: z.infer<typeof RequestShare>): RequestSpec {
    if (s.kind === 'mapi') {
      const path = s.path ?? `/mapi/emsmdb/?MailboxId=${encodeURIComponent(this.mix.user)}`;
      const session = this.idleMapi.pop() ?? new MapiSession(path, this.mix.headers);
      const spec = session.request();
      // A session carries one request at a time: its cookies change with every response.
      spec.onEnd = () => void this.idleMapi.push(session);
      return spec;
    }
    const cached = this.fixed.get(index);
    if (cached) return cached;
    let spec: RequestSpec;
    switch (s.kind) {
      case 'owa':
        spec = { kind: 'owa', method: s.method ?? 'GET', path: s.path ?? '/owa/', headers: { ...this.mix.headers, cookie: 'X-OWA-CANARY=bench', ...s.headers } };
        break;
      case 'ews':
        spec = {
          kind: 'ews',
          method: s.method ?? 'POST',
          path: s.path ?? '/EWS/Exchange.asmx',
          headers: { ...this.mix.headers, 'content-type': 'text/xml; charset=utf-8', ...s.headers },
          body: s.body ?? EWS_GETFOLDER,
        };
        break;
      case 'oab':
        spec = { kind: 'oab', method: 'GET', path: s.path ?? '/OAB/00000000-0000-0000-0000-000000000000/oab.xml', headers: { ...this.mix.headers, ...s.headers } };
        break;
      default:
        spec = { kind: 'get', method: s.method ?? 'GET', path: s.path ?? '/', headers: { ...this.mix.headers, ...s.headers }, ...(s.body !== undefined ? { body: s.body } : {}) };
    }
    this.fixed.set(index, spec);
    return spec;
  }
}
