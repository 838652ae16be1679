// A balancer picks one backend among the available ones. Policies are small and registered by name; a policy that
// keeps a client on its server (cookie) does so itself, so the engine asks the pool and never names a policy.
import type { Backend } from '../backend.js';

/** What a policy may read about the request. Built once per request by the engine; the same for every attempt. */
export interface PickContext {
  clientIp: string;
  /** The request's Cookie header as received (Node joins repeated ones with '; '). */
  cookie?: string;
}

export interface Balancer {
  /** `candidates` are already filtered by `available()`; never empty. Do not keep the array: it is reused. */
  pick(candidates: readonly Backend[], ctx: PickContext): Backend;
  /**
   * A Set-Cookie value that sends this client back to `backend` next time, or undefined when none is needed (the
   * policy has no stickiness, or the client already carries it). Called once the backend's response head arrives.
   */
  setCookie?(backend: Backend, ctx: PickContext): string | undefined;
}
