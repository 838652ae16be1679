// `casgate bench workers` end to end, at its smallest (one round of 1 s per load): it starts casgate with
// workers: 1 and workers: 2 under both cluster policies, drives each with `casgate bench load` in a process of its
// own, and prints the table. Regression: when the developers' harnesses moved to bench/, the verb still spawned the
// deleted dist/bench/bin.js and died with "Unexpected end of JSON input" before its first figure.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, test } from 'vitest';
import { findNginx } from '../../src/bench/workers/nginx.js';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const run = promisify(execFile);

test('casgate bench workers measures every load on every target and prints the ratios', async () => {
  const { stdout } = await run(process.execPath, [CLI, 'bench', 'workers', '--duration', '1s', '--rounds', '1'], { timeout: 120_000 });
  for (const load of ['keep-alive GET', 'new connection per GET', 'full TLS handshake', 'resumed TLS handshake']) {
    for (const target of ['workers: 1', 'workers: 2, SCHED_RR', 'workers: 2, SCHED_NONE']) {
      // Each row: load | target | per second | per proxy CPU-second | ratio | share: figures, not blanks.
      expect(stdout).toMatch(new RegExp(`\\| ${load} \\| ${target} \\| \\d+ \\| \\d+ \\| \\d+\\.\\d\\d \\|`));
    }
  }
  // nginx with session tickets, the reference for the handshakes (when installed; .ci/run installs it): every ticket
  // it issued was resumed (the verb fails otherwise), and it takes no GET load.
  if (findNginx()) {
    for (const load of ['full TLS handshake', 'resumed TLS handshake']) expect(stdout).toMatch(new RegExp(`\\| ${load} \\| nginx, session tickets \\| \\d+ \\| \\d+ \\| \\d+\\.\\d\\d \\|`));
    expect(stdout).not.toMatch(/\| keep-alive GET \| nginx/);
  }
}, 150_000);
