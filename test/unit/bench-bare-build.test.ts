// bench pair's casgate-bare target is made by patching casgate's built engine: the patch must apply to the engine as
// built now, and must refuse (never measure the unpatched engine as "bare") when the line it patches moves.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bareEngineSource, makeBareBuild } from '../../bench/peers/bare-build.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const REFERENCE = path.join(ROOT, 'bench', 'peers', 'reference-handler.ts');

describe('bareEngineSource', () => {
  const handle = 'export class ProxyEngine {\n    handle = (req, res) => {\n        const state = 1;\n    };\n}\n';

  it('makes handle forward as the reference does, before any of casgate\'s own work', () => {
    const out = bareEngineSource(handle, 'file:///x/reference-handler.js');
    expect(out.startsWith('import { ReferenceHandler, referenceRequestHeaders } from "file:///x/reference-handler.js";\n')).toBe(true);
    const body = out.slice(out.indexOf('handle = (req, res) => {'));
    expect(body.indexOf('new ReferenceHandler(res)')).toBeLessThan(body.indexOf('const state = 1'));
    expect(body).toMatch(/return;\n\s+const state = 1;/);
  });

  it('refuses an engine whose handle it cannot find exactly once', () => {
    expect(() => bareEngineSource('export class ProxyEngine {}\n', 'file:///x.js')).toThrow(/not found once/);
    expect(() => bareEngineSource(handle + handle, 'file:///x.js')).toThrow(/not found once/);
  });
});

describe('makeBareBuild', () => {
  const out = mkdtempSync(path.join(tmpdir(), 'casgate-bare-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('patches the engine as built (npm test builds dist/ first) into a copy that node accepts', () => {
    const root = makeBareBuild(ROOT, out, REFERENCE);
    const engine = path.join(root, 'dist', 'proxy', 'engine.js');
    expect(readFileSync(engine, 'utf8')).toContain('new ReferenceHandler(res)');
    expect(readFileSync(path.join(ROOT, 'dist', 'proxy', 'engine.js'), 'utf8')).not.toContain('ReferenceHandler');
    const check = spawnSync(process.execPath, ['--check', engine], { encoding: 'utf8' });
    expect(check.stderr).toBe('');
    expect(check.status).toBe(0);
  });
});
