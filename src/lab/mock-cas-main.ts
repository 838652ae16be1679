// Process entry of a mock CAS: `casgate mock-cas --name cas1 --http-port N --https-port M`, or run directly with
// `node dist/lab/mock-cas-main.js ...`. Prints ONE JSON line when listening, so a parent that asked for port 0 can
// read the real ports, and exits cleanly on SIGTERM/SIGINT (failover tests kill it for real).
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startMockCas } from './mock-cas.js';

const USAGE = `Usage: casgate mock-cas --name NAME [--host 127.0.0.1] [--http-port 0] [--https-port 0] [--control-port 0]
                       [--fqdn NAME.contoso.lab] [--cert FILE --key FILE] [--exit-with-stdin]

  Ports default to 0 (ephemeral); the real ones are printed as one JSON line:
  {"event":"listening","name":...,"httpPort":...,"httpsPort":...,"controlPort":...,"fingerprint256":...,"pid":...}
  --exit-with-stdin  exit when stdin closes (a parent that dies without killing us leaves no orphan)
`;

function port(value: string | undefined, flag: string): number {
  const n = Number(value ?? '0');
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`${flag}: expected a port from 0 to 65535, got "${value}"`);
  return n;
}

/**
 * Start the mock from command-line arguments and resolve when it has stopped after SIGTERM or SIGINT (the caller
 * then exits). Throws on bad arguments or when a port is taken.
 */
export async function runMockCasProcess(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      name: { type: 'string' },
      host: { type: 'string' },
      'http-port': { type: 'string' },
      'https-port': { type: 'string' },
      'control-port': { type: 'string' },
      fqdn: { type: 'string' },
      cert: { type: 'string' },
      key: { type: 'string' },
      'exit-with-stdin': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  if (!values.name) throw new Error(`--name is required\n${USAGE}`);
  if (Boolean(values.cert) !== Boolean(values.key)) throw new Error('--cert and --key go together');
  const mock = await startMockCas({
    name: values.name,
    ...(values.host ? { host: values.host } : {}),
    httpPort: port(values['http-port'], '--http-port'),
    httpsPort: port(values['https-port'], '--https-port'),
    controlPort: port(values['control-port'], '--control-port'),
    ...(values.fqdn ? { fqdn: values.fqdn } : {}),
    ...(values.cert && values.key
      ? { tls: { certPem: readFileSync(values.cert, 'utf8'), keyPem: readFileSync(values.key, 'utf8') } }
      : {}),
  });
  // Handlers first: stdout to a pipe is written synchronously, so a parent may signal us the moment it reads the line.
  const stopped = new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      resolve();
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    if (values['exit-with-stdin']) {
      process.stdin.on('end', stop).on('close', stop).on('error', stop).resume();
    }
  });
  process.stdout.write(
    `${JSON.stringify({
      event: 'listening',
      name: mock.name,
      host: mock.host,
      httpPort: mock.httpPort,
      httpsPort: mock.httpsPort,
      controlPort: mock.controlPort,
      fingerprint256: mock.fingerprint256,
      pid: process.pid,
    })}\n`,
  );
  await stopped;
  await mock.close();
}

function isMainModule(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMainModule()) {
  runMockCasProcess(process.argv.slice(2)).then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`mock-cas: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
