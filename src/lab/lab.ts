// `casgate lab` (what `npm start` runs): lab certificates, two mock CAS processes, and casgate in front of them
// with config/lab.yaml. Prints what to try, and stops everything on Ctrl-C.
import { fileURLToPath } from 'node:url';
import { Gateway } from '../gateway.js';
import type { Logger } from '../logging/logger.js';
import { provisionFile } from '../runtime/provision.js';
import { ensureLabCertificates } from '../tls/lab-certs.js';
import { spawnMockCasProcess, type MockCasProcess } from './mock-process.js';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

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
  stop(): Promise<void>;
}

export async function startLab(opts: LabOptions, logger: Logger): Promise<RunningLab> {
  const certs = await ensureLabCertificates(`${REPO_ROOT}certs/lab`);
  logger.info('lab certificates ready', { pfx: certs.pfxFile, ca: certs.caCertFile });
  const mocks: MockCasProcess[] = [];
  try {
    for (let i = 1; i <= opts.servers; i++) mocks.push(await spawnMockCasProcess(`cas${i}`));
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      LAB_HTTPS_PORT: String(opts.httpsPort),
      LAB_HTTP_PORT: String(opts.httpPort),
      LAB_ADMIN_PORT: String(opts.adminPort),
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
      async stop() {
        await gateway.stop();
        await Promise.all(mocks.map((m) => m.kill()));
      },
    };
  } catch (err) {
    await Promise.all(mocks.map((m) => m.kill()));
    throw err;
  }
}

export function labInstructions(lab: RunningLab, caFile: string): string {
  const https = lab.gateway.addresses.https.port;
  const http = lab.gateway.addresses.http?.port;
  const admin = lab.gateway.addresses.admin.port;
  const resolve = `--resolve mail.contoso.lab:${https}:127.0.0.1`;
  const base = `https://mail.contoso.lab:${https}`;
  const mocks = lab.mocks.map((m) => `${m.name} (pid ${m.pid}, http ${m.httpPort}, https ${m.httpsPort})`).join(', ');
  return `
casgate lab is running: casgate on https://127.0.0.1:${https} in front of ${mocks}.

Try:
  curl -k -i https://127.0.0.1:${https}/owa/                          # 302 to the OWA logon page, X-FEServer names the CAS
  curl -i --cacert ${caFile} ${resolve} -u 'alice:Passw0rd' ${base}/EWS/Exchange.asmx   # verified TLS; echo of what the CAS got
  curl -k https://127.0.0.1:${https}/mapi/healthcheck.htm             # 200 OK<br/>casN.contoso.lab
  curl -k https://127.0.0.1:${https}/MICROSOFT-SERVER-ACTIVESYNC/x     # paths are case-insensitive, like IIS
  curl -k --ntlm -u 'CONTOSO\\alice:Passw0rd' https://127.0.0.1:${https}/EWS/Exchange.asmx   # NTLM through the proxy
  curl -k -u 'alice:Passw0rd' https://127.0.0.1:${https}/EWS/mrsproxy.svc   # SSL bridging: re-encrypted to the CAS
${http ? `  curl -i http://127.0.0.1:${http}/owa/                                # 301 to https\n` : ''}  curl -k -i https://127.0.0.1:${https}/                                # 302 to /owa/
  open http://127.0.0.1:${admin}/                                       # status page; metrics at /metrics, JSON at /api/status

Failover: put cas1 in maintenance (ServerWideOffline) and watch it leave every pool on the status page:
  curl -X POST -d '{"on":true}' http://127.0.0.1:${lab.mocks[0]?.httpPort}/__mock/maintenance

Ctrl-C stops casgate and the mock servers.
`;
}
