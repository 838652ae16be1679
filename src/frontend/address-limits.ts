// Optional per-client-address limits on the HTTPS listener (issue 15): open connections at most, and new connections
// per second at most. Off by default: Exchange users share NAT and proxy addresses (a whole office behind one), so a
// limit is for sites that know their clients. Over a limit the connection is reset at accept (before TLS: no work
// spent on it), counted, and logged once per address per minute.

export type AddressLimitKind = 'connections' | 'rate';

export interface AddressLimitSettings {
  /** Open connections per address (0 = no limit). */
  maxConnections: number;
  /** New connections per address per second (0 = no limit). */
  maxNewPerSecond: number;
}

const LOG_EVERY_MS = 60_000;

export class AddressLimits {
  private readonly open = new Map<string, number>();
  /** Per address: the second being counted and the connections accepted in it. */
  private readonly recent = new Map<string, { second: number; n: number }>();
  private readonly logged = new Map<string, number>();

  constructor(
    private readonly settings: AddressLimitSettings,
    /** Refusals by limit, read by the metrics. */
    private readonly refused: Record<AddressLimitKind, number>,
    private readonly report: (address: string, kind: AddressLimitKind, limit: number) => void,
  ) {}

  get enabled(): boolean {
    return this.settings.maxConnections > 0 || this.settings.maxNewPerSecond > 0;
  }

  /** A new connection from `address`: true if admitted (then `release` must be called when it closes). */
  admit(address: string, now: number): boolean {
    const { maxConnections, maxNewPerSecond } = this.settings;
    if (maxNewPerSecond > 0) {
      const second = Math.floor(now / 1000);
      const r = this.recent.get(address);
      if (!r || r.second !== second) this.recent.set(address, { second, n: 1 });
      else if (++r.n > maxNewPerSecond) return this.refuse(address, 'rate', maxNewPerSecond, now);
    }
    const open = this.open.get(address) ?? 0;
    if (maxConnections > 0 && open >= maxConnections) return this.refuse(address, 'connections', maxConnections, now);
    this.open.set(address, open + 1);
    return true;
  }

  release(address: string): void {
    const open = (this.open.get(address) ?? 1) - 1;
    if (open > 0) this.open.set(address, open);
    else this.open.delete(address);
  }

  /** Forgets rate counts of past seconds and log marks older than a minute (called by the listener's sweep). */
  sweep(now: number): void {
    const second = Math.floor(now / 1000);
    for (const [address, r] of this.recent) if (r.second !== second) this.recent.delete(address);
    for (const [address, at] of this.logged) if (now - at >= LOG_EVERY_MS) this.logged.delete(address);
  }

  private refuse(address: string, kind: AddressLimitKind, limit: number, now: number): false {
    this.refused[kind]++;
    if (!this.logged.has(address)) {
      this.logged.set(address, now);
      this.report(address, kind, limit);
    }
    return false;
  }
}
