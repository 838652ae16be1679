import { expect, test } from 'vitest';
import { RecentPoolCounts } from '../../src/admin/recent.js';

test('requests and 5xx per pool over the last 60 s; older seconds drop out', () => {
  const recent = new RecentPoolCounts();
  const t0 = 1_800_000_000_000;
  recent.observe('cas/owa', 200, t0);
  recent.observe('cas/owa', 502, t0 + 500);
  recent.observe('cas/owa', 499, t0 + 30_000);
  recent.observe('cas/ews', 503, t0 + 30_000);
  expect(recent.lastMinute('cas/owa', t0 + 30_000)).toEqual({ requests: 3, errors: 1, errorRate: 1 / 3 });
  expect(recent.lastMinute('cas/owa', t0 + 61_000)).toEqual({ requests: 1, errors: 0, errorRate: 0 });
  // A bucket reused a minute later starts from zero.
  recent.observe('cas/owa', 200, t0 + 60_000);
  expect(recent.lastMinute('cas/owa', t0 + 60_000)).toEqual({ requests: 2, errors: 0, errorRate: 0 });
  expect(recent.lastMinute('cas/none', t0)).toEqual({ requests: 0, errors: 0, errorRate: 0 });
});
