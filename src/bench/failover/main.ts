// Placeholder so that src/cli.ts builds: `casgate bench failover` is not written yet (issue 5). Replace this file.
export async function main(_argv: string[]): Promise<number> {
  process.stderr.write('casgate bench failover: not implemented yet\n');
  return 2;
}
