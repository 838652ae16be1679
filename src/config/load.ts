// One config lifecycle: read → YAML → ${ENV} substitution → schema (defaults + validation) → typed Config.
// Every problem is reported at once, each with its file, line and key path, before anything listens.
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { LineCounter, parseDocument, isMap, isNode, isScalar, type Document } from 'yaml';
import type { z } from 'zod';
import { crossReferenceProblems } from './cross-references.js';
import { adminSchema, configSchema, type Config } from './schema.js';

export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`${file}: invalid configuration\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export interface LoadedConfig {
  file: string;
  config: Config;
  /** `file:line: key.path` of a key, for problems found after validation (a certificate that will not load...). */
  where(path: readonly PropertyKey[]): string;
}

/** `pools.cas.servers[1].host` */
export function formatKeyPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out ? `.${String(key)}` : String(key);
  }
  return out || '(top level)';
}

const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** Replaces ${NAME} and ${NAME:-default} in every string value, after parsing, so secrets never need YAML quoting. */
function substituteEnv(value: unknown, path: PropertyKey[], env: NodeJS.ProcessEnv, problems: Array<[PropertyKey[], string]>): unknown {
  if (typeof value === 'string') {
    return value.replace(ENV_REF, (_, name: string, fallback: string | undefined) => {
      const found = env[name];
      if (found !== undefined) return found;
      if (fallback !== undefined) return fallback;
      problems.push([path, `environment variable ${name} is not set`]);
      return '';
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => substituteEnv(v, [...path, i], env, problems));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substituteEnv(v, [...path, k], env, problems)]));
  }
  return value;
}

/** Line of the deepest YAML node that exists along `path`, so a missing key points at its parent. */
function lineOf(doc: Document, lines: LineCounter, path: readonly PropertyKey[]): number | undefined {
  for (let depth = path.length; depth >= 0; depth--) {
    const node = depth === 0 ? doc.contents : doc.getIn(path.slice(0, depth) as unknown[], true);
    if (isNode(node) && node.range) return lines.linePos(node.range[0]).line;
  }
  return undefined;
}

/** Line of `key` itself inside the mapping at `parent`: an unknown key is reported where it is written. */
function keyLine(doc: Document, lines: LineCounter, parent: readonly PropertyKey[], key: string): number | undefined {
  const node = parent.length === 0 ? doc.contents : doc.getIn(parent as unknown[], true);
  if (!isMap(node)) return undefined;
  const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === key);
  const range = isNode(pair?.key) ? pair.key.range : undefined;
  return range ? lines.linePos(range[0]).line : undefined;
}

/** The keys the schema knows at `path` (an object inside defaults, optionals, arrays, records and unions). */
export function knownKeysAt(path: readonly PropertyKey[]): string[] {
  type Def = { type: string; shape?: Record<string, unknown>; innerType?: unknown; element?: unknown; valueType?: unknown; options?: unknown[]; in?: unknown };
  const defOf = (schema: unknown): Def | undefined => (schema as { _zod?: { def?: Def } })?._zod?.def;
  const unwrap = (schema: unknown): unknown[] => {
    const def = defOf(schema);
    if (!def) return [];
    if (def.type === 'union') return (def.options ?? []).flatMap(unwrap);
    if (def.type === 'pipe') return unwrap(def.in);
    if (def.innerType !== undefined) return unwrap(def.innerType);
    return [schema];
  };
  let current = unwrap(configSchema);
  for (const key of path) {
    current = current.flatMap((schema) => {
      const def = defOf(schema)!;
      if (def.type === 'object' && typeof key === 'string' && def.shape?.[key]) return unwrap(def.shape[key]);
      if (def.type === 'array' && typeof key === 'number') return unwrap(def.element);
      if (def.type === 'record') return unwrap(def.valueType);
      return [];
    });
  }
  return [...new Set(current.flatMap((schema) => Object.keys(defOf(schema)?.shape ?? {})))];
}

/** Levenshtein distance, small strings only (config keys). */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row.push(Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    previous = row;
  }
  return previous[b.length]!;
}

/** The known key closest to a misspelt one: same letters in another case, or at most a third of them changed. */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const d = candidate.toLowerCase() === key.toLowerCase() ? 0 : distance(key.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best !== undefined && bestDistance <= Math.max(1, Math.floor(key.length / 3)) ? best : undefined;
}

/** `a`, `a or b`, `a, b or c` */
function inWords(values: readonly unknown[]): string {
  const words = values.map(String);
  return words.length <= 1 ? (words[0] ?? '') : `${words.slice(0, -1).join(', ')} or ${words.at(-1)}`;
}

function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let v = raw;
  for (const key of path) v = v && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[key] : undefined;
  return v;
}

function describeIssue(issue: z.core.$ZodIssue, raw: unknown): string {
  if (issue.code === 'invalid_type' && issue.message.endsWith('received undefined')) return 'required';
  if (issue.code === 'invalid_value' && issue.values.length > 0) {
    return `expected ${inWords(issue.values)}, got ${JSON.stringify(valueAt(raw, issue.path))}`;
  }
  if (issue.code === 'invalid_union') return 'expected one of the documented forms (see config/casgate.example.yaml)';
  return issue.message.replace(/^Invalid input: /, '');
}

/** Certificate and CA paths are relative to the config file's folder, like nginx's include paths. */
function resolvePaths(config: Config, baseDir: string): Config {
  const at = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));
  for (const cert of config.certificates) {
    if ('pfx' in cert) cert.pfx = at(cert.pfx);
    else {
      cert.cert = at(cert.cert);
      cert.key = at(cert.key);
    }
  }
  for (const pool of Object.values(config.pools)) if (pool.tls.ca) pool.tls.ca = at(pool.tls.ca);
  if (config.tls.ticketKeyFile) config.tls.ticketKeyFile = at(config.tls.ticketKeyFile);
  if (config.logging.access !== 'stdout' && config.logging.access !== 'off') config.logging.access = at(config.logging.access);
  if (config.admin.stateFile) config.admin.stateFile = at(config.admin.stateFile);
  return config;
}

/** Parses config text; `file` is used in messages and as the base for relative paths. */
export function parseConfig(text: string, file: string, env: NodeJS.ProcessEnv = process.env): Config {
  return parseConfigText(text, file, env).config;
}

/** The YAML of a config file as plain data, with the way from a key path to its line; syntax errors refused. */
function parseYaml(text: string, file: string): { doc: Document; lines: LineCounter; js: unknown; where: (path: readonly PropertyKey[]) => string } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length) {
    // After the first syntax error the parser's later complaints are mostly echoes of it.
    const first = doc.errors[0]!;
    throw new ConfigError(file, [`${file}:${lines.linePos(first.pos[0]).line}: YAML syntax: ${first.message.split('\n')[0]}`]);
  }
  const where = (path: readonly PropertyKey[]) => {
    const line = lineOf(doc, lines, path);
    return `${file}${line ? `:${line}` : ''}: ${formatKeyPath(path)}`;
  };
  try {
    return { doc, lines, js: doc.toJS(), where };
  } catch (err) {
    // The yaml package refuses alias bombs ("Excessive alias count") here, after parsing.
    throw new ConfigError(file, [`${file}: YAML: ${(err as Error).message}`]);
  }
}

/** parseConfig, keeping the way back from a key path to its line for the problems provisioning finds. */
export function parseConfigText(text: string, file: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const { doc, lines, js, where } = parseYaml(text, file);
  const envProblems: Array<[PropertyKey[], string]> = [];
  const raw = substituteEnv(js ?? {}, [], env, envProblems);
  const result = configSchema.safeParse(raw);
  const problems = envProblems.map(([path, msg]) => `${where(path)}: ${msg}`);
  if (!result.success) {
    for (const issue of result.error.issues) {
      if (issue.code === 'unrecognized_keys') {
        // One problem per key, at the key's own line, with the known key it most likely meant.
        const known = knownKeysAt(issue.path);
        for (const key of issue.keys) {
          const line = keyLine(doc, lines, issue.path, key) ?? lineOf(doc, lines, issue.path);
          const guess = closestKey(key, known);
          problems.push(`${file}${line ? `:${line}` : ''}: ${formatKeyPath([...issue.path, key])}: unknown key${guess ? `; did you mean "${guess}"?` : ''}`);
        }
      } else {
        problems.push(`${where(issue.path)}: ${describeIssue(issue, raw)}`);
      }
    }
    // zod skips the cross-reference checks once anything else failed; run them on the raw input so every problem
    // shows at once.
    for (const { path, message } of crossReferenceProblems(raw)) {
      const problem = `${where(path)}: ${message}`;
      if (!problems.includes(problem)) problems.push(problem);
    }
  }
  if (problems.length) throw new ConfigError(file, problems);
  return { file, config: resolvePaths(result.data!, dirname(resolve(file))), where };
}

function readConfigFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [`${file}: cannot read the file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`]);
  }
}

export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  return parseConfigText(readConfigFile(file), file, env);
}

/**
 * Only the `admin` block of a config file, for the command line's calls to a running instance (`casgate status`,
 * `backend`, `restart`): an admin's shell lacks the service's environment (a PFX password from systemd's
 * EnvironmentFile), and nothing but the admin listener and token is needed. A variable the block itself names (its
 * token) must be set.
 */
export function loadAdminSettings(file: string, env: NodeJS.ProcessEnv = process.env): Config['admin'] {
  const { js, where } = parseYaml(readConfigFile(file), file);
  const envProblems: Array<[PropertyKey[], string]> = [];
  const raw = substituteEnv((js as { admin?: unknown } | null)?.admin, ['admin'], env, envProblems);
  const result = adminSchema.safeParse(raw);
  const problems = envProblems.map(([path, msg]) => `${where(path)}: ${msg}`);
  if (!result.success) for (const issue of result.error.issues) problems.push(`${where(['admin', ...issue.path])}: ${describeIssue(issue, raw)}`);
  if (problems.length) throw new ConfigError(file, problems);
  return result.data!;
}
