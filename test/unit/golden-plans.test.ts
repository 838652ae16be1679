// Golden config fixtures (issue 12): each test/fixtures/configs/golden/x.yaml, loaded with the real loader and
// expanded by buildPlan, must produce x.plan.json beside it. The JSON is the readable record of what a config (the
// Exchange preset above all) expands to: routes with their pools, timeouts, rpc flags and allow lists; pools with
// mode, service, probe path and host, and health settings. A change to a default shows up as a diff here.
// `CASGATE_UPDATE_GOLDEN=1 npx vitest run test/unit/golden-plans.test.ts` rewrites the JSON files; read the diff.
import { readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { loadConfigFile } from '../../src/config/load.js';
import { buildPlan, type Plan } from '../../src/config/plan.js';

const dir = join(dirname(fileURLToPath(import.meta.url)), '../fixtures/configs/golden');
const update = process.env.CASGATE_UPDATE_GOLDEN === '1';

/** The meaningful fields of a plan as plain JSON: no functions, no class instances, file paths left out. */
function serialisePlan(plan: Plan): unknown {
  return {
    routes: plan.routes.map((r) => ({
      name: r.name,
      hosts: r.hosts ?? 'any',
      path: r.path,
      matchPath: r.matchPath,
      pool: r.pool,
      service: r.service ?? null,
      firstByteTimeoutMs: r.firstByteTimeoutMs,
      idleTimeoutMs: r.idleTimeoutMs,
      rpc: r.rpc ?? false,
      // BlockList exposes its rules as text ("Subnet: IPv4 10.0.0.0/8"); sorted, so Node's internal order is moot.
      allow: r.allow ? [...r.allow.rules].sort() : 'everyone',
    })),
    pools: plan.pools.map((p) => ({
      name: p.name,
      mode: p.mode,
      service: p.service ?? null,
      healthPath: p.healthPath ?? null,
      healthFrom: p.healthFrom ?? null,
      probeHost: p.probeHost ?? null,
      balance: p.config.balance,
      servers: p.config.servers.map((s) => ({ name: s.name, host: s.host, port: s.port, httpsPort: s.httpsPort, weight: s.weight })),
      health: {
        enabled: p.config.health.enabled,
        intervalMs: p.config.health.interval,
        unhealthyIntervalMs: p.config.health.unhealthyInterval ?? null,
        timeoutMs: p.config.health.timeout,
        fall: p.config.health.fall,
        rise: p.config.health.rise,
        jitterMs: p.config.health.jitter,
        expectBody: p.config.health.expectBody,
      },
      outlier: {
        enabled: p.config.outlier.enabled,
        consecutiveFailures: p.config.outlier.consecutiveFailures,
        baseEjectionMs: p.config.outlier.baseEjection,
        maxEjectionMs: p.config.outlier.maxEjection,
        maxEjectionPercent: p.config.outlier.maxEjectionPercent,
      },
      backendVerification: p.config.tls.insecure ? 'off' : p.config.tls.ca ? 'ca' : p.config.tls.fingerprint256 ? 'fingerprint' : 'system CAs',
    })),
  };
}

const configs = readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort();

describe('golden config fixtures: x.yaml builds the plan in x.plan.json', () => {
  test('there are fixtures to compare', () => {
    expect(configs.length).toBeGreaterThanOrEqual(3);
  });

  for (const file of configs) {
    test(file, () => {
      // An empty environment: a fixture that needs a variable would be a fixture that depends on the machine.
      const { config } = loadConfigFile(join(dir, file), {});
      const actual = `${JSON.stringify(serialisePlan(buildPlan(config)), null, 2)}\n`;
      const golden = join(dir, file.replace(/\.yaml$/, '.plan.json'));
      if (update) writeFileSync(golden, actual);
      expect(existsSync(golden), `${golden} is missing: run with CASGATE_UPDATE_GOLDEN=1 to write it`).toBe(true);
      expect(JSON.parse(actual)).toEqual(JSON.parse(readFileSync(golden, 'utf8')));
    });
  }
});
