// RouteHistogram must be indistinguishable from the prom-client Histogram it replaced, on /metrics and in JSON.
import { Histogram, Registry } from 'prom-client';
import { expect, test } from 'vitest';
import { RouteHistogram } from '../../src/admin/route-histogram.js';

const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];

test('same text and JSON as a prom-client Histogram labelled by route', async () => {
  const theirs = new Registry();
  const ours = new Registry();
  const h = new Histogram({ name: 'x_seconds', help: 'Help.', labelNames: ['route'], buckets: BUCKETS, registers: [theirs] });
  const r = new RouteHistogram('x_seconds', 'Help.', BUCKETS);
  ours.registerMetric(r as never);
  expect(await ours.metrics()).toBe(await theirs.metrics());
  const samples: [string, number][] = [
    ['exchange/owa', 0.003], ['exchange/owa', 0.005], ['exchange/ews', 0.7], ['exchange/owa', 1.5], ['exchange/mapi', 5000],
    ['bench', 0], ['exchange/ews', 3600], ['bench', 0.0101],
  ];
  for (const [route, v] of samples) {
    h.labels(route).observe(v);
    r.observe(route, v);
  }
  expect(await ours.metrics()).toBe(await theirs.metrics());
  expect(await ours.getMetricsAsJSON()).toEqual(await theirs.getMetricsAsJSON());
  ours.resetMetrics();
  theirs.resetMetrics();
  expect(await ours.metrics()).toBe(await theirs.metrics());
});
