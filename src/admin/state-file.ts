// Admin changes that survive a restart, as HAProxy's server-state-file: drain, disable and weight set through the admin
// API are written to `admin.stateFile` (JSON, replaced atomically on each change) and applied again at start, before
// the first request and the first health probe. Only what differs from the config is kept; an entry whose pool or
// server no longer exists is skipped with a warning. An unreadable file is reported and ignored: it never stops
// casgate from starting.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { Logger } from '../logging/logger.js';
import type { AdminState } from '../upstream/backend.js';
import type { UpstreamPool } from '../upstream/pool.js';

export interface SavedBackendState {
  pool: string;
  server: string;
  admin: AdminState;
  /** Set only when the admin changed it. */
  weight?: number;
}

interface StateFileContent {
  version: 1;
  savedAt: string;
  backends: SavedBackendState[];
}

export function currentState(pools: Iterable<UpstreamPool>): SavedBackendState[] {
  const out: SavedBackendState[] = [];
  for (const pool of pools) {
    for (const b of pool.backends) {
      if (b.adminState === 'enabled' && b.weightOverride === undefined) continue;
      out.push({ pool: pool.name, server: b.name, admin: b.adminState, ...(b.weightOverride !== undefined ? { weight: b.weightOverride } : {}) });
    }
  }
  return out;
}

/** Writes beside the file and renames over it: a crash mid-write leaves the previous state, never half a file. */
export function saveState(file: string, pools: Iterable<UpstreamPool>): void {
  const content: StateFileContent = { version: 1, savedAt: new Date().toISOString(), backends: currentState(pools) };
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(content, null, 2)}\n`, { mode: 0o600 });
  renameSync(temporary, file);
}

/** Applies a saved state to the pools; returns how many entries were applied. A missing file is a first start. */
export function restoreState(file: string, pools: ReadonlyMap<string, UpstreamPool>, logger: Logger): number {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') logger.warn('state file not read; starting with the config as it is', { file, error: (err as Error).message });
    return 0;
  }
  let entries: unknown;
  try {
    entries = (JSON.parse(text) as StateFileContent).backends;
    if (!Array.isArray(entries)) throw new Error('no "backends" list');
  } catch (err) {
    logger.warn('state file is not valid; starting with the config as it is', { file, error: (err as Error).message });
    return 0;
  }
  let applied = 0;
  for (const entry of entries as SavedBackendState[]) {
    const backend = pools.get(entry?.pool)?.find(entry?.server);
    if (!backend) {
      logger.warn('state file entry skipped: no such pool or server in the config', { file, pool: String(entry?.pool), server: String(entry?.server) });
      continue;
    }
    const pool = pools.get(entry.pool)!;
    if (entry.admin === 'draining') backend.drain(pool.plan.config.drainTimeout, 'draining (admin, restored from the state file)');
    else if (entry.admin === 'disabled') backend.disable('disabled (admin, restored from the state file)');
    if (Number.isInteger(entry.weight) && entry.weight! >= 0 && entry.weight! <= 1000) backend.weightOverride = entry.weight;
    applied++;
  }
  if (applied) logger.info('admin state restored from the state file', { file, backends: applied });
  return applied;
}
