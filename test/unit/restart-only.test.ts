// What a reload cannot apply: the bound listeners, the admin listener and the log destinations; but two settings in
// those blocks are bound to nothing and do reload (trusted proxies, the admin token).
import { expect, test } from 'vitest';
import { restartOnlyChanges, withReloadable } from '../../src/config/restart-only.js';
import type { Config } from '../../src/config/schema.js';

const base = {
  listen: { https: { address: '0.0.0.0', port: 443 }, trustForwardedFrom: [] as string[] },
  admin: { address: '127.0.0.1', port: 9090, token: 'old-token-0123456789' },
  logging: { access: 'stdout', format: 'text' },
  workerFlags: [] as string[],
} as unknown as Config;
const edit = (patch: (c: Config) => void): Config => {
  const c = structuredClone(base);
  patch(c);
  return c;
};

test('a listener, admin listener or log change is named; trusted proxies and the admin token are not', () => {
  expect(restartOnlyChanges(base, edit((c) => void (c.listen.https.port = 8443)))).toEqual(['listen']);
  expect(restartOnlyChanges(base, edit((c) => void (c.admin.port = 9191)))).toEqual(['admin']);
  expect(restartOnlyChanges(base, edit((c) => void (c.listen.trustForwardedFrom = ['10.0.0.5/32'])))).toEqual([]);
  expect(restartOnlyChanges(base, edit((c) => void (c.admin.token = 'new-token-0123456789')))).toEqual([]);
  expect(restartOnlyChanges(base, edit((c) => void delete c.admin.token))).toEqual([]);
});

test('a reload keeps the bound settings in effect and takes the reloadable ones from the new file', () => {
  const next = edit((c) => {
    c.listen.https.port = 8443;
    c.listen.trustForwardedFrom = ['10.0.0.5/32'];
    c.admin.token = 'new-token-0123456789';
    c.admin.port = 9191;
  });
  const applied = withReloadable(base, next);
  expect(applied.listen).toEqual({ ...base.listen, trustForwardedFrom: ['10.0.0.5/32'] });
  expect(applied.admin).toEqual({ ...base.admin, token: 'new-token-0123456789' });
  expect(applied.logging).toBe(base.logging);
});
