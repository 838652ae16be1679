// Argument parsing shared by the bench verbs (load, failover, ha, spray, workers) and the developers' harnesses under
// bench/ (peers, pings): strict options, the same refusal for a bad one (`casgate bench <verb>: <what is wrong>`, or
// `bench <verb>: ...` for a harness, exit status 2, no stack), and the same readers for counts and durations.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { parseDuration } from '../config/duration.js';

type OptionsConfig = NonNullable<ParseArgsConfig['options']>;

/** A bad option or option value: the verb prints the message and exits with status 2. */
export class UsageError extends Error {}

/** node:util parseArgs with strict options and no positionals; an unknown or malformed option is a UsageError. */
export function parseVerbArgs<const O extends OptionsConfig>(argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: false, strict: true }).values;
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

/** -h and --help, which every verb takes besides its own options. */
const HELP = { help: { type: 'boolean', short: 'h' } } as const;

/** The option values a verb's body gets: those of its own `options` (and help). */
export type VerbValues<O extends OptionsConfig> = ReturnType<typeof parseVerbArgs<O & typeof HELP>>;

/**
 * A verb's entry point, main(argv): `-h`/`--help` prints `usage` and returns 0; otherwise `options` are parsed
 * strictly and `body` runs with their values (and the command line, for a report that quotes it), its errors answered
 * as runVerb answers them.
 */
export function verbMain<const O extends OptionsConfig>(
  verb: string,
  usage: string,
  options: O,
  body: (values: VerbValues<O>, argv: string[]) => Promise<number>,
  program?: string,
): (argv: string[]) => Promise<number> {
  return (argv) =>
    runVerb(
      verb,
      async () => {
        const values = parseVerbArgs(argv, { ...options, ...HELP });
        // The values' type is deferred while O is generic; help is there, as HELP declares it.
        if ((values as { help?: boolean }).help) {
          process.stdout.write(usage);
          return 0;
        }
        return body(values, argv);
      },
      usage,
      program,
    );
}

/** A whole number of at least `min`. */
export function wholeNumber(text: string, flag: string, min: number): number {
  const v = Number(text);
  if (!Number.isInteger(v) || v < min) throw new UsageError(`${flag}: expected a whole number of at least ${min}`);
  return v;
}

/** A number above zero (rates, counts). */
export function positiveNumber(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${flag}: expected a positive number, got "${text}"`);
  return n;
}

/** Milliseconds from a duration as the config writes them (500ms, 8s, 1m30s). */
export function durationMs(text: string, flag: string): number {
  const v = parseDuration(text);
  if (v === undefined) throw new UsageError(`${flag}: expected a duration like 500ms or 8s, got ${JSON.stringify(text)}`);
  return v;
}

/**
 * Runs a verb's body: a UsageError is printed as `<program> <verb>: message` (and the usage, when given) with exit
 * status 2; any other error as the same line with status 1. `program` is `casgate bench` for the shipped verbs and
 * `bench` for the harnesses, which are run as `node bench/dist/bench/bin.js <verb>`.
 */
export async function runVerb(verb: string, body: () => Promise<number>, usage?: string, program = 'casgate bench'): Promise<number> {
  try {
    return await body();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const usageError = err instanceof UsageError;
    process.stderr.write(`${program} ${verb}: ${message}\n${usageError && usage ? `\n${usage}` : ''}`);
    return usageError ? 2 : 1;
  }
}
