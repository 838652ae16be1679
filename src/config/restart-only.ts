// Which config changes a reload cannot apply. The listeners, the admin listener and the log destinations are bound
// once at start; a reload that changes them applies everything else and names these as not applied. Two settings
// inside those blocks are not bound to anything and do reload: listen.trustForwardedFrom (which peers' X-Forwarded-For
// names the client: a load balancer replaced or added) and admin.token (rotated without a restart).
import type { Config } from './schema.js';

/** Settings that only take effect on a restart: the listeners are bound once. */
export function restartOnlyChanges(before: Config, after: Config): string[] {
  const changed: string[] = [];
  if (JSON.stringify(bound(before.listen, 'trustForwardedFrom')) !== JSON.stringify(bound(after.listen, 'trustForwardedFrom'))) changed.push('listen');
  if (JSON.stringify(bound(before.admin, 'token')) !== JSON.stringify(bound(after.admin, 'token'))) changed.push('admin');
  if (JSON.stringify(before.logging) !== JSON.stringify(after.logging)) changed.push('logging');
  if (JSON.stringify(before.workerFlags) !== JSON.stringify(after.workerFlags)) changed.push('workerFlags');
  return changed;
}

/** A block without its key that a reload applies. */
function bound<T extends object>(block: T, reloadable: keyof T): Omit<T, typeof reloadable> {
  const { [reloadable]: _applied, ...rest } = block;
  return rest;
}

/** The running config's restart-only blocks with `next`'s reloadable settings in them: what a reload puts in effect. */
export function withReloadable(running: Config, next: Config): Pick<Config, 'listen' | 'admin' | 'logging'> {
  return {
    listen: { ...running.listen, trustForwardedFrom: next.listen.trustForwardedFrom },
    admin: { ...running.admin, token: next.admin.token },
    logging: running.logging,
  };
}
