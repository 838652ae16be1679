// Holds N ActiveSync Pings open through a proxy: N TLS connections, each with one Ping POST that the mock CAS
// answers only when its heartbeat (X-Test-Heartbeat-Ms) ends. Prints "READY <sent> <failed>" once every Ping is
// sent, then "HELD <open> <failed>" every 5 s while holding (a connection that closes or errors early counts as
// failed); exits on SIGTERM. One process holds at most what its descriptor limit allows: run several for more.
//   node dist/bench/peers/idle-pings.js <port> <count> [heartbeat-ms]
import tls from 'node:tls';

const port = Number(process.argv[2]);
const count = Number(process.argv[3] ?? 1000);
const heartbeatMs = Number(process.argv[4] ?? 600_000);
const body = Buffer.from([0x03, 0x01, 0x6a, 0x00, 0x00, 0x0d, 0x45, 0x48, 0x03, 0x39, 0x30, 0x30, 0x00, 0x01, 0x01]); // WBXML Ping, HeartbeatInterval 900
const head =
  'POST /Microsoft-Server-ActiveSync?Cmd=Ping&User=user1&DeviceId=BENCH0000&DeviceType=iPhone HTTP/1.1\r\n' +
  'Host: mail.contoso.lab\r\nAuthorization: Basic dXNlcjFAY29udG9zby5jb206UGFzc3dvcmQx\r\nMS-ASProtocolVersion: 16.1\r\n' +
  `Content-Type: application/vnd.ms-sync.wbxml\r\nX-Test-Heartbeat-Ms: ${heartbeatMs}\r\nContent-Length: ${body.length}\r\n\r\n`;
const sockets: tls.TLSSocket[] = [];
let open = 0;
let failed = 0;

function openOne(): Promise<void> {
  return new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] });
    let state: 'connecting' | 'held' | 'gone' = 'connecting';
    const fail = (): void => {
      if (state === 'gone') return;
      if (state === 'held') open--;
      else resolve();
      state = 'gone';
      failed++;
    };
    s.once('secureConnect', () => {
      s.write(head);
      s.write(body);
      state = 'held';
      open++;
      resolve();
    });
    // Anything before the heartbeat ends (an error status, a close) is a failure.
    s.on('data', fail);
    s.on('error', fail);
    s.on('close', fail);
    sockets.push(s);
  });
}

let next = 0;
await Promise.all(
  Array.from({ length: 50 }, async () => {
    while (next < count) {
      next++;
      await openOne();
    }
  }),
);
process.stdout.write(`READY ${open} ${failed}\n`);
setInterval(() => process.stdout.write(`HELD ${open} ${failed}\n`), 5_000);
process.on('SIGTERM', () => process.exit(0));
