// What every handler of one mock server shares: its identity, state and protocol registries.
import type { ChallengeTarget } from './ntlm-messages.js';
import type { MockState } from './state.js';
import type { MapiSessions } from './mapi-sessions.js';
import type { RpcChannels } from './rpc-channels.js';

export interface MockContext {
  name: string;
  fqdn: string;
  state: MockState;
  ntlmTarget: ChallengeTarget;
  mapi: MapiSessions;
  rpc: RpcChannels;
  /** Start or stop accepting connections on the main ports (the control port stays up). */
  setAccepting(on: boolean): Promise<void>;
}
