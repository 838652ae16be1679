// The timeline chart must open in a browser: well-formed XML, one line per CAS, one marker per event, the labels escaped.
// (It was also checked by eye, rendered with headless chromium; see bench/README.md.)
import { describe, expect, it } from 'vitest';
import { escapeXml, niceStep, renderTimelineSvg } from '../../src/bench/failover/svg.js';
import { bucketize, type FailoverEvent } from '../../src/bench/failover/timeline.js';

/** A strict-enough XML check without a parser package: balanced tags, quoted attributes, no bare & or <. */
function checkWellFormed(xml: string): void {
  const stack: string[] = [];
  const tag = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|<\?[^>]*\?>|<!--[\s\S]*?-->/g;
  let last = 0;
  for (const m of xml.matchAll(tag)) {
    const text = xml.slice(last, m.index);
    if (/[<>]/.test(text)) throw new Error(`stray markup near ${JSON.stringify(text.slice(0, 60))}`);
    if (/&(?!(?:amp|lt|gt|quot|apos|#\d+);)/.test(text)) throw new Error(`bare & in ${JSON.stringify(text.slice(0, 60))}`);
    last = m.index + m[0].length;
    if (!m[2]) continue;
    if (m[1]) {
      const open = stack.pop();
      if (open !== m[2]) throw new Error(`</${m[2]}> closes <${open}>`);
    } else if (!m[4]) stack.push(m[2]);
  }
  if (/[<>]/.test(xml.slice(last))) throw new Error('stray markup at the end');
  if (stack.length) throw new Error(`unclosed: ${stack.join(', ')}`);
}

const events: FailoverEvent[] = [
  { at: 2000, action: 'kill', server: 'cas1' },
  { at: 4000, action: 'restart', server: 'cas1' },
  { at: 6000, action: 'drain', server: 'cas3' },
];

function chart() {
  const samples = [];
  for (let t = 0; t < 8000; t += 10) {
    const backend = `cas${(t / 10) % 3 + 1}`;
    if (backend === 'cas1' && t >= 2000 && t < 4500) continue;
    samples.push({ kind: 'owa', sentAt: t, endAt: t + 20, status: 200, attempts: 1, backend });
  }
  const timeline = bucketize(samples, { startMs: 0, endMs: 8000, widthMs: 500 });
  return renderTimelineSvg({
    title: 'failover <test> & "quotes"',
    timeline,
    events,
    errors: [{ t: 2010, kind: 'ews' }, { t: 2020, kind: 'activesync' }],
    availability: [
      { t: 0, backend: 'cas1', available: 2, pools: 2 },
      { t: 3500, backend: 'cas1', available: 0, pools: 2 },
      { t: 4600, backend: 'cas1', available: 2, pools: 2 },
    ],
    endMs: 8000,
  });
}

describe('renderTimelineSvg', () => {
  const svg = chart();

  it('is well-formed SVG', () => {
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(() => checkWellFormed(svg)).not.toThrow();
  });

  it('draws one path per backend and one marker per event', () => {
    const series = [...svg.matchAll(/<path class="series" data-backend="([^"]+)" d="([^"]+)"/g)];
    expect(series.map((m) => m[1])).toEqual(['cas1', 'cas2', 'cas3']);
    for (const m of series) expect(m[2]!.split(/[ML]/).filter(Boolean)).toHaveLength(16); // a point per bucket
    const markers = [...svg.matchAll(/<g class="event" data-action="([^"]+)">/g)].map((m) => m[1]);
    expect(markers).toEqual(['kill', 'restart', 'drain']);
    expect(svg).toContain('>kill cas1</text>');
  });

  it('marks each lost request and shades the time a server was out', () => {
    expect(svg.match(/<path class="error"/g)).toHaveLength(2);
    expect(svg).toMatch(/<rect [^>]*fill-opacity="0.08"><title>cas1 out of service<\/title>/);
  });

  it('escapes text', () => {
    expect(svg).toContain('failover &lt;test&gt; &amp; &quot;quotes&quot;');
    expect(escapeXml(`a<b>&'"`)).toBe('a&lt;b&gt;&amp;&apos;&quot;');
  });

  it('the well-formedness check itself catches broken markup', () => {
    expect(() => checkWellFormed('<svg><g></svg>')).toThrow();
    expect(() => checkWellFormed('<svg><text>a & b</text></svg>')).toThrow();
  });
});

describe('niceStep', () => {
  it('gives 1, 2 or 5 times a power of ten', () => {
    expect(niceStep(100, 5)).toBe(20);
    expect(niceStep(56, 10)).toBe(10);
    expect(niceStep(7, 5)).toBe(2);
    expect(niceStep(0, 5)).toBe(1);
  });
});
