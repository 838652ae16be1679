// bench/RESULTS.md is shared: bench peers rewrites its own part and must keep the failover and idle-Ping sections
// (and anything a person wrote) that follow the marker.
import { describe, expect, it } from 'vitest';
import { KEPT_MARKER, keptSections } from '../../src/bench/peers/results.js';

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
