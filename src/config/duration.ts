// Durations are written as an admin would in HAProxy or nginx: `500ms`, `5s`, `30m`, `1h`, `1h30m`.
// `0` means "no limit" where a timeout is concerned.
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/;
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/g;

/**
 * The longest duration a Node timer holds (2^31 - 1 ms, about 24.8 days). A longer one fires after 1 ms instead
 * (TimeoutOverflowWarning): a health interval of 30d would probe in a loop, a route timeout of 30d cut every request.
 */
export const MAX_DURATION_MS = 2_147_483_647;

/** Parses a duration to milliseconds; returns undefined for text that is not a duration. */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (trimmed === '0') return 0;
  if (!DURATION.test(trimmed)) return undefined;
  let total = 0;
  for (const [, amount, unit] of trimmed.matchAll(PART)) total += Number(amount) * UNIT_MS[unit!]!;
  return Math.round(total);
}

/** Formats milliseconds back into the shortest exact duration text (`90000` → `1m30s`). */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0';
  const parts: string[] = [];
  let rest = ms;
  for (const [unit, size] of [['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  if (rest) parts.push(`${rest}ms`);
  return parts.join('');
}
