// `workerFlags` are checked the only way that is sure: by starting node with them, once per distinct list (a
// reload with the same list costs nothing). Node refuses a flag it does not know, or a bad value, with exit status 9
// and a line on stderr; a worker forked with such a flag would die at once, over and over.
import { spawnSync } from 'node:child_process';
import { DEFAULT_WORKER_FLAGS } from '../config/worker-flags.js';

/**
 * Verdicts by flag list. casgate's own default needs no child process: node 20 and later know these flags, and
 * test/integration/workers.test.ts forks workers with them. Without this entry every `casgate run`, `check` and test
 * process paid a node start (~50 ms) on its first provision.
 */
const verdicts = new Map<string, string | undefined>([[DEFAULT_WORKER_FLAGS.join('\0'), undefined]]);

/** Why node refuses these flags, or undefined when it starts with them. */
export function nodeFlagsProblem(flags: readonly string[]): string | undefined {
  if (flags.length === 0) return undefined;
  const key = flags.join('\0');
  if (verdicts.has(key)) return verdicts.get(key);
  const result = spawnSync(process.execPath, [...flags, '-e', '0'], { encoding: 'utf8', timeout: 10_000, env: { ...process.env, NODE_OPTIONS: '' } });
  const refused = result.error
    ? `node did not start with them: ${result.error.message}`
    : result.status !== 0
      ? `node refuses them: ${result.stderr.split('\n').find((line) => line.trim() !== '')?.trim() ?? `exit status ${result.status}`}`
      : undefined;
  verdicts.set(key, refused);
  return refused;
}
