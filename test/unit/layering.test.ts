// The layout is the architecture: each layer of src/ imports only from its own layer or those below it, and no
// module imports itself back through others. This test reads every src/**/*.ts, follows each relative import
// (static, `import type`, `export ... from` and `import()`) and fails naming the file, the import and the rule it
// breaks, so that a wrong-way import is caught where it is written rather than in the next refactor.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'src');

/**
 * THE layer table, bottom first. A folder of src/ (or a file at its top, by name without .ts) may import from its own
 * row and the rows above it in this list, never from a row below. Why each row is where it is:
 * - config, logging, failure (the failure vocabulary: codes, whose fault, retryable), net (listen/close helpers),
 *   version: no casgate knowledge beyond themselves; everything may use them.
 * - tls: certificates and contexts, read from config.
 * - upstream (pools, balancers, health) and router (host + path matching): the two halves of "where does it go".
 * - runtime: what provisioning makes of a config (tls + router + upstream types, nothing listening); the serving
 *   layers take it in apply().
 * - proxy and frontend: the request path (frontend accepts and guards connections, proxy forwards).
 * - admin: reads everything below to report it; nothing below reads admin.
 * - gateway: wires one running instance together.
 * - cluster: the primary and its workers, each running a gateway (src/cluster/, issue 9).
 * - lab: mock CAS servers and a gateway in front, for people and tests.
 * - bench: the shipped bench verbs (load, failover, ha, ...), which start labs and gateways. (The developers'
 *   harnesses are not in src/: top-level bench/, its own package.)
 * - cli: the entry point, at the very top because it dispatches every verb, the bench verbs included.
 * Adding a folder to src/ means adding it here: an unknown folder fails the test.
 */
const LAYERS: readonly (readonly string[])[] = [
  ['config', 'logging', 'failure', 'net', 'version'],
  ['tls'],
  ['upstream', 'router'],
  ['runtime'],
  ['proxy', 'frontend'],
  ['admin'],
  ['gateway'],
  ['cluster'],
  ['lab'],
  ['bench'],
  ['cli'],
];

const rank = new Map(LAYERS.flatMap((row, i) => row.map((unit) => [unit, i] as const)));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(full);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [full] : [];
  });
}

/** The layer a source file belongs to: its top folder under src/, or its own name for a file at the top. */
function unitOf(file: string): string {
  const [first, ...rest] = path.relative(SRC, file).split(path.sep);
  return rest.length > 0 ? first! : first!.replace(/\.ts$/, '');
}

// Comments are blanked first so that an example in a comment is not read as an import.
const IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"](\.{1,2}\/[^'"]+)['"]/gm;

function importsOf(file: string): { specifier: string; target: string }[] {
  const text = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
  return [...text.matchAll(IMPORT)].map((m) => {
    const specifier = m[1]!;
    return { specifier, target: path.resolve(path.dirname(file), specifier).replace(/\.js$/, '.ts') };
  });
}

const files = sourceFiles(SRC);
const graph = new Map(files.map((f) => [f, importsOf(f)]));
const rel = (f: string) => path.relative(path.dirname(SRC), f);

describe('layering of src/', () => {
  test('the table knows every folder and top-level file of src/', () => {
    const unknown = [...new Set(files.map(unitOf))].filter((u) => !rank.has(u));
    expect(unknown, 'add them to LAYERS in test/unit/layering.test.ts, at the row they belong to').toEqual([]);
  });

  test('every relative import resolves to a source file (the checks below see every edge)', () => {
    const known = new Set(files);
    const dangling = [...graph].flatMap(([f, imports]) => imports.filter((i) => !known.has(i.target)).map((i) => `${rel(f)}: ${i.specifier}`));
    expect(dangling).toEqual([]);
  });

  test('no import runs upward', () => {
    const wrong: string[] = [];
    for (const [file, imports] of graph) {
      const from = unitOf(file);
      for (const { specifier, target } of imports) {
        const to = unitOf(target);
        const a = rank.get(from);
        const b = rank.get(to);
        if (a !== undefined && b !== undefined && b > a) wrong.push(`${rel(file)} (${from}) imports ${specifier} (${to}, a higher layer)`);
      }
    }
    expect(wrong).toEqual([]);
  });

  test('no import cycle between files', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const stack: string[] = [];
    const visit = (f: string): void => {
      state.set(f, 'open');
      stack.push(f);
      for (const { target } of graph.get(f) ?? []) {
        if (!graph.has(target)) continue;
        if (state.get(target) === 'open') cycles.push([...stack.slice(stack.indexOf(target)), target].map(rel).join(' → '));
        else if (!state.has(target)) visit(target);
      }
      stack.pop();
      state.set(f, 'done');
    };
    for (const f of files) if (!state.has(f)) visit(f);
    expect(cycles).toEqual([]);
  });

  test('the checker itself sees a wrong-way import and a cycle', () => {
    // Guards against a regex that silently matches nothing: these are real edges the rules rely on.
    const engine = path.join(SRC, 'proxy', 'engine.ts');
    expect(graph.get(engine)!.map((i) => unitOf(i.target))).toEqual(expect.arrayContaining(['router', 'upstream', 'failure', 'config']));
    expect(rank.get('admin')! > rank.get('proxy')!).toBe(true);
    expect(importsOf(path.join(SRC, 'cli.ts')).some((i) => i.specifier.startsWith('./bench/'))).toBe(true);
  });
});
