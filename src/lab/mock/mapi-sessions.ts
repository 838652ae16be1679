// The per-server registry of MAPI sessions (mapi.ts serves the requests). Its own file so that the server context
// (context.ts) can hold it without importing the handlers that take that context.

export interface MapiSession {
  endpoint: 'emsmdb' | 'nspi';
  /** Number of the next MapiSequence this server expects at least; lower ones are replays. */
  sequence: number;
  user: string | null;
}

/** Sessions by MapiContext cookie value; one registry per mock server. */
export class MapiSessions {
  readonly byContext = new Map<string, MapiSession>();
}
