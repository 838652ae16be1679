// Puts the "## Workers" section in bench/RESULTS.md: in place of an earlier one, else at the end.
export function replaceSection(previous: string, section: string): string {
  const m = /^## Workers$/m.exec(previous);
  if (!m) return `${previous.replace(/\n*$/, '\n')}\n${section}`;
  const after = previous.slice(m.index + m[0].length);
  const next = after.search(/^## /m);
  const rest = next < 0 ? '' : after.slice(next);
  return `${previous.slice(0, m.index)}${section.replace(/\n*$/, '\n')}${rest ? `\n${rest}` : ''}`;
}
