// What `casgate lab` prints is what a new user pastes first: every curl line is run here, exactly as printed, against
// a real `casgate lab` child on ephemeral ports, and must answer the status its comment claims.
import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, test } from 'vitest';
import { eventually } from '../helpers/eventually.js';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const sh = (cmd: string) => promisify(execFile)('sh', ['-c', cmd], { timeout: 15_000 });

test('every curl line the lab prints does what it says, admin token included', async () => {
  const child = spawn(process.execPath, [CLI, 'lab', '--https-port', '0', '--http-port', '0', '--admin-port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', () => {});
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  try {
    await eventually(() => out.includes('Ctrl-C stops'), { timeoutMs: 30_000, what: 'the lab to print its instructions' });
    expect(out).toMatch(/Admin token: casgate-lab-admin-token/);
    const curlLines = out.split('\n').filter((l) => /^\s+curl /.test(l));
    expect(curlLines.length).toBeGreaterThanOrEqual(15);
    // Health probes must have seen every server (the lab probes every 2 s) before a 200 can be expected from all.
    const adminPort = /http:\/\/127\.0\.0\.1:(\d+)\/api\/pools/.exec(out)![1];
    await eventually(
      async () => {
        const pools = (await (await fetch(`http://127.0.0.1:${adminPort}/api/pools`)).json()) as { pools: Array<{ backends: Array<{ state: string }> }> };
        return pools.pools.every((p) => p.backends.every((b) => b.state === 'healthy'));
      },
      { timeoutMs: 30_000, what: 'every lab backend healthy' },
    );
    const results: string[] = [];
    for (const line of curlLines) {
      const m = /^\s+(curl .*?)\s+# (\d{3})\b/.exec(line);
      expect(m, `no "# <status>" claim on: ${line}`).not.toBeNull();
      const [, command, claimed] = m!;
      const { stdout } = await sh(`${command} -s -o /dev/null -w '%{http_code}'`);
      results.push(`${stdout} ${command}`);
      expect(stdout, command).toBe(claimed);
    }
    // The Lync lines are answered by the mock front end, through casgate's host-name route (seed 003).
    const meet = curlLines.find((l) => l.includes('https://meet.contoso.lab'))!.replace(/\s+#.*$/, '');
    expect((await sh(meet)).stdout).toMatch(/x-lync-frontend: lyncfe1[\s\S]*meeting join page/i);
    const discover = curlLines.find((l) => l.includes('lyncdiscover'))!.replace(/\s+#.*$/, '');
    expect(JSON.parse((await sh(discover)).stdout)).toMatchObject({ frontEnd: 'lyncfe1', host: 'lyncdiscover.contoso.lab' });
    child.kill('SIGINT');
    expect(await exited).toBe(0);
  } finally {
    child.kill('SIGKILL');
  }
}, 90_000);
