// bench spray's RESULTS.md section: rendered from a run, replaced in place, other sections kept.
import { describe, expect, test } from 'vitest';
import { renderSpray, replaceSpraySection, type SprayRound, type SprayRun } from '../../src/bench/spray/report.js';

const round = (protection: 'off' | 'on', reached: number): SprayRound => ({
  protection, attempts: 100, reachedCas: reached, refusedByCasgate: 100 - reached, maxPerUser: protection === 'off' ? 12 : 5, meanPerUser: reached / 10,
  usersOverThreshold: protection === 'off' ? 10 : 0, accountsLocked: protection === 'off' ? ['bob'] : [], legitRequests: 50, legitErrors: 0,
  casgateCpuMs: 90, cpuUsPerAttempt: 900, ...(protection === 'on' ? { cpuUsPerRefused: 300 } : {}), durationS: 4,
});
const run: SprayRun = {
  date: '2026-12-01',
  settings: { users: 10, realUsers: 5, passwords: 12, addresses: 4, concurrency: 2, threshold: 10, owaShare: 0.3, limits: 'defaults' },
  rounds: [round('off', 100), round('on', 50)],
};

describe('bench spray report', () => {
  test('the table puts off and on side by side', () => {
    const text = renderSpray(run);
    expect(text).toMatch(/^## Password spray$/m);
    expect(text).toContain('| guesses at the CAS per user name: most / mean | 12 / 10.0 | 5 / 5.0 |');
    expect(text).toContain('| real accounts locked in the directory | 1 (bob) | 0 |');
    expect(text).toContain('| casgate CPU per refused attempt (all-refused burst) | – | 300 µs |');
  });

  test('replaces its own section and keeps the others', () => {
    const before = '# Results\n\n## Failover\nA\n\n## Password spray\nold table\n\n## 20,000 idle ActiveSync Pings\nB\n';
    const after = replaceSpraySection(before, renderSpray(run));
    expect(after).not.toContain('old table');
    expect(after).toContain('## Failover\nA');
    expect(after).toContain('## 20,000 idle ActiveSync Pings\nB');
    expect(replaceSpraySection('# Results\n', '## Password spray\nx\n')).toBe('# Results\n\n## Password spray\nx\n');
  });
});
