// Where the harnesses find the repository and casgate's build. They run compiled (bench/dist/bench/...) and, in unit
// tests, from source (bench/...), so the root is found by walking up to casgate's own package.json, not by counting "..".
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function repositoryRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'casgate') return dir;
    if (path.dirname(dir) === dir) throw new Error(`no casgate package.json above ${from}`);
  }
}

/** The clone's root (where casgate's package.json is). */
export const ROOT = repositoryRoot(path.dirname(fileURLToPath(import.meta.url)));
/** casgate's CLI as `npm run build` makes it: the harnesses run the shipped `casgate run` and `casgate bench load`. */
export const CASGATE_CLI = path.join(ROOT, 'dist', 'cli.js');
