// `casgate lab` (what `npm start` runs): lab certificates, two mock CAS processes, a mock Lync front end, and
// casgate in front of them with config/lab.yaml. Prints what to try (every line checked by test/integration/
// lab-instructions.test.ts against a real lab), and stops everything on Ctrl-C.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Gateway } from '../gateway.js';
import type { Logger } from '../logging/logger.js';
import { provisionFile } from '../runtime/provision.js';
import { ensureLabCertificates } from '../tls/lab-certs.js';
import { spawnMockCasProcess, type MockCasProcess } from './mock-process.js';
import { startMockLync, type MockLync } from './mock-lync.js';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Where the lab keeps its certificates. From a clone (a `.git` beside package.json): certs/lab/, gitignored, as the
 * README shows. From an installed package (e.g. /usr/lib/node_modules/casgate, often root-owned and replaced on each
 * upgrade): the user's state directory, $XDG_STATE_HOME/casgate/lab or ~/.local/state/casgate/lab.
 */
export function labCertDir(env: NodeJS.ProcessEnv = process.env, root = REPO_ROOT): string {
  if (existsSync(join(root, '.git'))) return join(root, 'certs', 'lab');
  // The XDG spec says a relative $XDG_STATE_HOME is invalid and must be ignored.
  const state = env.XDG_STATE_HOME && isAbsolute(env.XDG_STATE_HOME) ? env.XDG_STATE_HOME : join(homedir(), '.local', 'state');
  return join(state, 'casgate', 'lab');
}

export interface LabOptions {
  httpsPort: number;
  httpPort: number;
  adminPort: number;
  servers: number;
  config?: string;
}

export interface RunningLab {
  gateway: Gateway;
  mocks: MockCasProcess[];
  lync: MockLync;
  /** The lab CA's certificate (PEM), for clients' --cacert. */
  caCertFile: string;
  stop(): Promise<void>;
}

export async function startLab(opts: LabOptions, logger: Logger): Promise<RunningLab> {
  const certDir = labCertDir();
  const certs = await ensureLabCertificates(certDir);
  logger.info('lab certificates ready', { pfx: certs.pfxFile, ca: certs.caCertFile });
  const mocks: MockCasProcess[] = [];
  // Seed 003's front end listens on 4443; the lab takes a free port so that it never collides.
  const lync = await startMockLync();
  try {
    for (let i = 1; i <= opts.servers; i++) mocks.push(await spawnMockCasProcess(`cas${i}`));
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      LAB_HTTPS_PORT: String(opts.httpsPort),
      LAB_HTTP_PORT: String(opts.httpPort),
      LAB_ADMIN_PORT: String(opts.adminPort),
      LAB_CERT_DIR: certDir,
      LYNC_HTTPS_PORT: String(lync.port),
      LYNC_FINGERPRINT: lync.fingerprint256,
    };
    mocks.forEach((m, i) => {
      env[`CAS${i + 1}_HTTP_PORT`] = String(m.httpPort);
      env[`CAS${i + 1}_HTTPS_PORT`] = String(m.httpsPort);
      env[`CAS${i + 1}_FINGERPRINT`] = m.fingerprint256;
    });
    // The lab's config reloads like any other: SIGHUP and POST /api/reload read the file again with the same
    // environment, so the mock servers' ports and pins stay as they are.
    const file = opts.config ?? `${REPO_ROOT}config/lab.yaml`;
    const gateway = await Gateway.start(provisionFile(file, env), { logger, source: { file, env } });
    return {
      gateway,
      mocks,
      lync,
      caCertFile: certs.caCertFile,
      async stop() {
        await gateway.stop();
        await Promise.all([...mocks.map((m) => m.kill()), lync.close()]);
      },
    };
  } catch (err) {
    await Promise.all([...mocks.map((m) => m.kill()), lync.close()]);
    throw err;
  }
}

/** POSIX shell single quotes: the printed lines are pasted into a shell as they are. */
function shq(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}

/**
 * What `casgate lab` prints. Each `curl` line ends with `# <status> ...`: the status it answers with, which the lab
 * test checks by running the line as printed. Credentials are the mock's (any user and password are accepted).
 */
export function labInstructions(lab: RunningLab, caFile: string): string {
  const https = lab.gateway.addresses.https.port;
  const http = lab.gateway.addresses.http?.port;
  const admin = lab.gateway.addresses.admin.port;
  const token = lab.gateway.config.admin.token;
  const ca = `--cacert ${shq(caFile)}`;
  const at = (host: string) => `${ca} --resolve ${host}:${https}:127.0.0.1 https://${host}:${https}`;
  const user = `-u 'CONTOSO\\alice:Passw0rd'`;  // config/lab-users.yaml: the mock CAS checks the password
  const bearer = token ? `-H ${shq(`Authorization: Bearer ${token}`)}` : '';
  const mocks = lab.mocks.map((m) => `${m.name} (pid ${m.pid}, http ${m.httpPort}, https ${m.httpsPort})`).join(', ');
  const cas1 = lab.mocks[0];
  const lines = [
    '',
    `casgate lab is running: casgate on https://127.0.0.1:${https} in front of ${mocks}, and the Lync front end lyncfe1 (https ${lab.lync.port}).`,
    `Admin token: ${token ?? '(none: admin.token is not set, state changes are refused)'}   (admin.token in the config; CASGATE_ADMIN_TOKEN sets it)`,
    `Lab CA: ${caFile} (curl --cacert; -k skips verification)`,
    '',
    'Exchange:',
    `  curl -k -i https://127.0.0.1:${https}/owa/                  # 302 to the OWA logon page; X-FEServer names the CAS`,
    `  curl -i ${user} ${at('mail.contoso.lab')}/EWS/Exchange.asmx   # 200 verified TLS with the lab CA; echo of what the CAS received`,
    `  curl -k ${user} https://127.0.0.1:${https}/ews/exchange.asmx   # 200 any letter case, like IIS`,
    `  curl -k --ntlm ${user} https://127.0.0.1:${https}/EWS/Exchange.asmx   # 200 after the NTLM handshake, pinned to one CAS connection`,
    `  curl -k ${user} https://127.0.0.1:${https}/EWS/mrsproxy.svc   # 200 SSL bridging: re-encrypted to the CAS, its certificate pinned`,
    `  curl -k https://127.0.0.1:${https}/mapi/healthcheck.htm      # 200 OK<br/>casN.contoso.lab`,
    `  curl -k -i https://127.0.0.1:${https}/                       # 302 to /owa/`,
    ...(http ? [`  curl -i http://127.0.0.1:${http}/owa/                       # 301 to https`] : []),
    '',
    'Lync/Skype simple URLs (seed 003: published by host name, bridged to the front end on its own port):',
    `  curl -i ${at('meet.contoso.lab')}/meet/alice/F2K9Q7   # 200 meeting join page from lyncfe1`,
    `  curl -i ${at('dialin.contoso.lab')}/dialin/   # 200 dial-in conferencing settings from lyncfe1`,
    `  curl ${at('lyncdiscover.contoso.lab')}/Autodiscover/AutodiscoverService.svc/root   # 200 Lync Discover JSON`,
    `  curl -i ${at('webext.contoso.lab')}/lwa/   # 200 Lync Web App`,
    '',
    `Admin (status page: open http://127.0.0.1:${admin}/ in a browser):`,
    `  curl -s http://127.0.0.1:${admin}/api/pools                   # 200 every pool and server with its state`,
    `  curl -s http://127.0.0.1:${admin}/metrics                     # 200 Prometheus metrics`,
    `  curl -s -X POST ${bearer} http://127.0.0.1:${admin}/api/backends/cas1/drain    # 200 cas1 takes no new work`,
    `  curl -s -X POST ${bearer} http://127.0.0.1:${admin}/api/backends/cas1/enable   # 200 cas1 back in service`,
    ...(cas1
      ? [
          '',
          'Failover: put cas1 in Exchange maintenance (ServerWideOffline) and watch it leave every pool on the status page:',
          `  curl -s -X POST -d '{"on":true}' http://127.0.0.1:${cas1.httpPort}/__mock/maintenance    # 200 cas1's probes now fail`,
          `  curl -s -X POST -d '{"on":false}' http://127.0.0.1:${cas1.httpPort}/__mock/maintenance   # 200 cas1 healthy again`,
        ]
      : []),
    '',
    'Ctrl-C stops casgate and the mock servers.',
    '',
  ];
  return lines.join('\n');
}
