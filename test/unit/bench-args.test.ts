// The bench verbs' one entry point (src/bench/args.ts verbMain): what `casgate bench <verb>` and the harnesses under
// bench/ answer to --help, to a bad option and to a good command line.
import { afterEach, expect, test, vi } from 'vitest';
import { UsageError, verbMain } from '../../src/bench/args.js';

const USAGE = 'usage: demo [--count N] [--dry]\n';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => (out.push(String(s)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => (err.push(String(s)), true));
  return { out, err };
}
afterEach(() => {
  vi.restoreAllMocks();
});

const seen: { values: unknown; argv: string[] }[] = [];
const main = verbMain('demo', USAGE, { count: { type: 'string' }, dry: { type: 'boolean' } }, async (values, argv) => {
  seen.push({ values: { ...values }, argv });
  if (values.count === '0') throw new UsageError('--count: expected at least 1');
  if (values.count === 'boom') throw new Error('the run failed');
  return 0;
});

test('-h and --help print the usage on stdout and exit 0 without running the verb', async () => {
  for (const flag of ['-h', '--help']) {
    const { out, err } = capture();
    seen.length = 0;
    expect(await main([flag])).toBe(0);
    expect(out.join('')).toBe(USAGE);
    expect(err).toEqual([]);
    expect(seen).toEqual([]);
    vi.restoreAllMocks();
  }
});

test('an unknown option, a stray argument or a missing value: the message, the usage, exit 2, the verb not run', async () => {
  for (const argv of [['--nope'], ['extra'], ['--count']]) {
    const { err } = capture();
    seen.length = 0;
    expect(await main(argv)).toBe(2);
    expect(err.join('')).toMatch(new RegExp(`^casgate bench demo: .+\\n\\n${USAGE.replace(/[[\]]/g, '\\$&')}$`));
    expect(seen).toEqual([]);
    vi.restoreAllMocks();
  }
});

test('the verb runs with its values and command line; its UsageError exits 2 with the usage, another error 1 without', async () => {
  let io = capture();
  seen.length = 0;
  expect(await main(['--count', '3', '--dry'])).toBe(0);
  expect(seen).toEqual([{ values: { count: '3', dry: true }, argv: ['--count', '3', '--dry'] }]);
  vi.restoreAllMocks();

  io = capture();
  expect(await main(['--count', '0'])).toBe(2);
  expect(io.err.join('')).toBe(`casgate bench demo: --count: expected at least 1\n\n${USAGE}`);
  vi.restoreAllMocks();

  io = capture();
  expect(await main(['--count', 'boom'])).toBe(1);
  expect(io.err.join('')).toBe('casgate bench demo: the run failed\n');
});

test('a harness names itself as it is run: bench <verb>', async () => {
  const harness = verbMain('peers', USAGE, {}, async () => 0, 'bench');
  const { err } = capture();
  expect(await harness(['--nope'])).toBe(2);
  expect(err.join('')).toMatch(/^bench peers: Unknown option '--nope'\n\n/);
});
