// The bench verbs' --results FILE (bench/RESULTS.md): each rewrites its own section of the file and keeps the rest,
// so the file is read, changed and written whole; a file not there yet starts empty.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

/** Rewrites `file` with what `update` makes of its text ('' when the file does not exist yet). */
export function updateResultsFile(file: string, update: (previous: string) => string): void {
  const previous = existsSync(file) ? readFileSync(file, 'utf8') : '';
  writeFileSync(file, update(previous));
}
