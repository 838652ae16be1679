// A balancer picks one backend among the available ones. Policies are small and registered by name.
import type { Backend } from '../backend.js';

export interface PickContext {
  clientIp: string;
  /** Value of the pool's affinity cookie, when the `cookie` policy is used. */
  affinity?: string;
}

export interface Balancer {
  /** `candidates` are already filtered by `available()`; never empty. Do not keep the array: it is reused. */
  pick(candidates: readonly Backend[], ctx: PickContext): Backend;
}
