// `casgate-bare` for bench pair: casgate's own process (listener, TLS settings, certificate store and SNI callback,
// first-bytes peek, deadlines, descriptor limits, gateway, health checks, node flags) with its engine's per-request
// work replaced by the reference proxy's (reference-handler.ts: the client's head minus Connection/Keep-Alive plus
// X-Forwarded-For, streamed back). Measured against `undici`, it says how much of casgate's distance to the reference
// lies outside the engine's per-request work; against `casgate`, what that work costs in all.
//
// Made from the built dist/ by copying it and patching one line of dist/proxy/engine.js; it fails loudly (never
// measures the unpatched engine) when that line changes.
import { cpSync, existsSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/** The start of ProxyEngine.handle as tsc emits it (a class field holding an arrow function). */
const HANDLE = '    handle = (req, res) => {\n';

/**
 * engine.js with ProxyEngine.handle forwarding every request as the reference does, to the first server of the
 * first pool (bench peers' casgate.yaml has one pool of one server).
 */
export function bareEngineSource(source: string, referenceHandlerUrl: string): string {
  const at = source.indexOf(HANDLE);
  if (at < 0 || source.indexOf(HANDLE, at + 1) >= 0) {
    throw new Error(`bare build: ProxyEngine.handle not found once in dist/proxy/engine.js (looked for ${JSON.stringify(HANDLE)})`);
  }
  const bare =
    '        const backend = this.pools.values().next().value.backends[0];\n' +
    '        backend.dispatcher.dispatch({ origin: backend.origin.url, path: req.url, method: req.method, headers: referenceRequestHeaders(req), ' +
    "body: req.method === 'GET' ? null : req }, new ReferenceHandler(res));\n" +
    '        return;\n';
  const imports = `import { ReferenceHandler, referenceRequestHeaders } from ${JSON.stringify(referenceHandlerUrl)};\n`;
  return imports + source.slice(0, at + HANDLE.length) + bare + source.slice(at + HANDLE.length);
}

/** Builds the bare copy of `root`'s dist/ under `out`/bare and returns its root (for the casgate target). */
export function makeBareBuild(root: string, out: string, referenceHandler: string): string {
  const bareRoot = path.join(out, 'bare');
  const dist = path.join(root, 'dist');
  if (!existsSync(path.join(dist, 'proxy', 'engine.js'))) throw new Error(`bare build: casgate not built (no ${dist}/proxy/engine.js)`);
  rmSync(bareRoot, { recursive: true, force: true });
  cpSync(dist, path.join(bareRoot, 'dist'), { recursive: true });
  // The package's type (ESM) and its packages (undici, yaml) as the build beside it has them.
  cpSync(path.join(root, 'package.json'), path.join(bareRoot, 'package.json'));
  symlinkSync(path.join(root, 'node_modules'), path.join(bareRoot, 'node_modules'), 'dir');
  const engine = path.join(bareRoot, 'dist', 'proxy', 'engine.js');
  writeFileSync(engine, bareEngineSource(readFileSync(engine, 'utf8'), pathToFileURL(referenceHandler).href));
  return bareRoot;
}
