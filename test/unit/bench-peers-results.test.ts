// bench/RESULTS.md is shared: bench peers rewrites its own part and must keep the failover and idle-Ping sections
// (and anything a person wrote) that follow the marker.
import { describe, expect, it } from 'vitest';
import { KEPT_MARKER, keptSections, renderResults, type PeersRun } from '../../bench/peers/results.js';

describe('bench peers keeps the other sections of RESULTS.md', () => {
  it('keeps the marker and everything after it', () => {
    const previous = `# casgate against its peers\n\nold table\n\n${KEPT_MARKER}\n\n## Failover\n\nkill: 1.51 s\n`;
    expect(keptSections(previous)).toBe(`${KEPT_MARKER}\n\n## Failover\n\nkill: 1.51 s\n`);
  });

  it('starts a new file with the marker alone', () => {
    expect(keptSections('')).toBe(`${KEPT_MARKER}\n`);
    expect(keptSections('# an old file without the marker\n')).toBe(`${KEPT_MARKER}\n`);
  });
});

describe('the goals table', () => {
  const sample = (value: number) => ({ value, cpuS: 3, wallS: 3, errors: 0 });
  const run = (directP99: number): PeersRun => ({
    date: '2026-11-29T00:00:00.000Z',
    elapsedS: 500,
    rounds: 1,
    durationS: 3,
    idleCount: 2000,
    rate: 3000,
    rateWhy: 'given',
    loader: 'wrk',
    backend: 'nginx',
    targets: ['direct', 'casgate', 'nginx', 'http-proxy'].map((name) => ({ name, describe: name, skipped: undefined })),
    notes: [],
    versions: {},
    commands: {},
    samples: {
      direct: { p99: [sample(directP99)] },
      casgate: { p99: [sample(6)], smallGet: [sample(10_000)] },
      nginx: { p99: [sample(4)], smallGet: [sample(30_000)] },
      'http-proxy': { p99: [sample(7)], smallGet: [sample(8_000)] },
    },
  });
  const p99Row = (md: string) => md.split('\n').find((l) => l.startsWith('| p99 ≤ 2 × nginx'));

  it('decides the p99 goal when the backend straight from the load generator is fast', () => {
    expect(p99Row(renderResults(run(3)))).toBe('| p99 ≤ 2 × nginx | 1.50 × | yes |');
  });

  it('leaves it undecided when even the backend straight from the load generator was slow', () => {
    expect(p99Row(renderResults(run(64.9)))).toMatch(/\| 1.50 × \| undecided: direct itself had p99 64.9 ms/);
  });
});
