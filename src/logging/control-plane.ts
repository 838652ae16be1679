// The control plane (reloads, the admin API, health probes, certificate checks) must never end the process: an
// exception nobody foresaw there is logged with its stack, counted by where it happened
// (casgate_control_plane_errors_total{where}), and the proxy keeps serving with what it had.
import type { Logger } from './logger.js';

export type ControlPlanePlace = 'reload' | 'admin' | 'health' | 'extended-protection' | 'signal';

export class ControlPlaneErrors {
  private readonly counts = new Map<string, number>();

  constructor(private readonly logger: Logger) {}

  /** Errors so far, by place. */
  get byPlace(): ReadonlyMap<string, number> {
    return this.counts;
  }

  report(where: ControlPlanePlace, err: unknown): void {
    this.counts.set(where, (this.counts.get(where) ?? 0) + 1);
    const e = err instanceof Error ? err : new Error(String(err));
    this.logger.error('unexpected error in the control plane; casgate keeps serving', { where, error: e.message, stack: e.stack });
  }

  /** Runs `fn`; what it throws (or rejects with) is reported, never passed on. */
  guard(where: ControlPlanePlace, fn: () => unknown): void {
    try {
      const result = fn();
      if (result instanceof Promise) result.catch((err: unknown) => this.report(where, err));
    } catch (err) {
      this.report(where, err);
    }
  }
}
