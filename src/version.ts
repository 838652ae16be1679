// casgate's own version, read once from the package.json shipped beside dist/ (npm pack, npm link and a git clone
// all have it there), so `casgate --version`, the build-info metric and the status page never disagree.
import { readFileSync } from 'node:fs';

function readVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

export const VERSION = readVersion();
