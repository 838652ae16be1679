// `casgate bench load`: argument parsing and output. The engine is runLoad() in run.ts.
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { parseVerbArgs, positiveNumber } from '../args.js';
import { loadMixFile } from './mix.js';
import type { LoadOptions } from './options.js';
import { progressLine, toJson, toMarkdown } from './report.js';
import { runLoad } from './run.js';

export const USAGE = `usage: casgate bench load --url URL [options]
       casgate bench load --mix FILE [--url URL] [options]

Load:
  --url URL             target (http: or https:); its path is requested in single-URL mode
  --mix FILE            Exchange mix (YAML or JSON): request shares, held ActiveSync Pings, RPC tunnels
  --connections N       keep-alive connections in total (default 32); closed loop keeps one request in flight on each
  --rate R              open loop at R requests/s in total; latency runs from each request's intended send time
  --duration T          measured time, e.g. 30, 30s, 500ms, 2m (default 10s)
  --warmup T            load before measuring, not counted (default 2s)
  --workers N           worker threads, one per core to use (default 1)
  --timeout T           per request, for headers and between body chunks (default 30s; undici checks it about once a second)
  --max-inflight N      open loop: requests in flight per worker before sending falls behind (default 10000)
  --fresh-connections   a new connection and full TLS handshake for every request (no session resumption)
  --method M            single-URL mode (default GET); any token, e.g. RPC_IN_DATA
  --header 'K: V'       single-URL mode, repeatable
  --body TEXT | --body-file FILE
TLS:
  --insecure            do not verify the target's certificate
  --ca FILE             verify it against this PEM bundle
  --servername NAME     SNI name and the name the certificate must carry
Output:
  --json FILE           write the result as JSON ("-" for stdout, then the summary goes to stderr)
  --markdown FILE       write the Markdown summary to FILE as well
  --quiet               no summary on stdout
`;

/** Seconds from "30", "30s", "500ms", "2m". */
export function parseDuration(text: string, option: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m) throw new Error(`--${option}: expected a duration like 30, 30s, 500ms or 2m, got "${text}"`);
  const n = Number(m[1]);
  return m[2] === 'ms' ? n / 1000 : m[2] === 'm' ? n * 60 : n;
}

function parseCount(text: string | undefined, option: string): number | undefined {
  return text === undefined ? undefined : positiveNumber(text, `--${option}`);
}

export async function parseLoadArgs(argv: string[]): Promise<{ options: LoadOptions; json?: string; markdown?: string; quiet: boolean } | 'help'> {
  const values = parseVerbArgs(argv, {
    url: { type: 'string' },
    mix: { type: 'string' },
    connections: { type: 'string', short: 'c' },
    rate: { type: 'string', short: 'R' },
    duration: { type: 'string', short: 'd' },
    warmup: { type: 'string' },
    workers: { type: 'string', short: 'w' },
    timeout: { type: 'string' },
    'max-inflight': { type: 'string' },
    'fresh-connections': { type: 'boolean' },
    method: { type: 'string' },
    header: { type: 'string', short: 'H', multiple: true },
    body: { type: 'string' },
    'body-file': { type: 'string' },
    insecure: { type: 'boolean', short: 'k' },
    ca: { type: 'string' },
    servername: { type: 'string' },
    json: { type: 'string' },
    markdown: { type: 'string' },
    quiet: { type: 'boolean', short: 'q' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return 'help';
  const headers: Record<string, string> = {};
  for (const h of values.header ?? []) {
    const i = h.indexOf(':');
    if (i <= 0) throw new Error(`--header: expected "Name: value", got "${h}"`);
    headers[h.slice(0, i).trim().toLowerCase()] = h.slice(i + 1).trim();
  }
  const mix = values.mix ? await loadMixFile(values.mix) : undefined;
  const body = values['body-file'] ? readFileSync(values['body-file'], 'utf8') : values.body;
  const options: LoadOptions = {
    ...(values.url ? { url: values.url } : {}),
    ...(mix ? { mix } : {}),
    ...(values.method ? { method: values.method } : {}),
    headers,
    ...(body !== undefined ? { body } : {}),
    ...(values.connections ? { connections: parseCount(values.connections, 'connections')! } : {}),
    ...(values.rate ? { rate: parseCount(values.rate, 'rate')! } : {}),
    ...(values.duration ? { durationS: parseDuration(values.duration, 'duration') } : {}),
    ...(values.warmup ? { warmupS: parseDuration(values.warmup, 'warmup') } : {}),
    ...(values.workers ? { workers: parseCount(values.workers, 'workers')! } : {}),
    ...(values.timeout ? { timeoutS: parseDuration(values.timeout, 'timeout') } : {}),
    ...(values['max-inflight'] ? { maxInflight: parseCount(values['max-inflight'], 'max-inflight')! } : {}),
    freshConnections: values['fresh-connections'] ?? false,
    tls: {
      insecure: values.insecure ?? false,
      ...(values.ca ? { ca: readFileSync(values.ca, 'utf8') } : {}),
      ...(values.servername ? { servername: values.servername } : {}),
    },
  };
  return {
    options,
    ...(values.json ? { json: values.json } : {}),
    ...(values.markdown ? { markdown: values.markdown } : {}),
    quiet: values.quiet ?? false,
  };
}

/** Exit codes: 0 the run completed with at least one good response; 1 none succeeded; 2 bad arguments. */
export async function main(argv: string[]): Promise<number> {
  let parsed: Awaited<ReturnType<typeof parseLoadArgs>>;
  try {
    parsed = await parseLoadArgs(argv);
  } catch (err) {
    process.stderr.write(`casgate bench load: ${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`);
    return 2;
  }
  if (parsed === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  const { options, json, markdown, quiet } = parsed;
  const totalS = (options.warmupS ?? 2) + (options.durationS ?? 10);
  if (process.stderr.isTTY && !quiet) options.onProgress = (p) => process.stderr.write(progressLine(p, totalS));
  let result;
  try {
    result = await runLoad(options);
  } catch (err) {
    process.stderr.write(`casgate bench load: ${err instanceof Error ? err.message : String(err)}\n`);
    return 2;
  } finally {
    if (options.onProgress) process.stderr.write('\n');
  }
  const md = toMarkdown(result);
  if (json === '-') process.stdout.write(toJson(result));
  else if (json) await writeFile(json, toJson(result));
  if (markdown) await writeFile(markdown, md);
  if (!quiet) (json === '-' ? process.stderr : process.stdout).write(md);
  return result.requests.ok > 0 || result.held.activesync?.answered || result.held.rpc?.opened ? 0 : 1;
}
