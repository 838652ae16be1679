// Which config changes a reload cannot apply. The listeners, the admin listener and the log destinations are bound
// once at start; a reload that changes them applies everything else and names these as not applied.
import type { Config } from './schema.js';

/** Settings that only take effect on a restart: the listeners are bound once. */
export function restartOnlyChanges(before: Config, after: Config): string[] {
  const changed: string[] = [];
  if (JSON.stringify(before.listen) !== JSON.stringify(after.listen)) changed.push('listen');
  if (JSON.stringify(before.admin) !== JSON.stringify(after.admin)) changed.push('admin');
  if (JSON.stringify(before.logging) !== JSON.stringify(after.logging)) changed.push('logging');
  if (JSON.stringify(before.workerFlags) !== JSON.stringify(after.workerFlags)) changed.push('workerFlags');
  return changed;
}
