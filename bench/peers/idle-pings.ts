// Holds N ActiveSync Pings open through a proxy: N TLS connections, each with one Ping POST that the mock CAS
// answers only when its heartbeat (X-Test-Heartbeat-Ms) ends or when told to (POST /__mock/answer-pings).
// Prints "READY <held> <failed>" once every Ping is sent, and "HELD <held> <failed> <answered> <closed> [failures]"
// on each change (at most every 250 ms) and every 2 s: held = sent and not answered yet; failed = an error, a close or an
// answer other than 200 before the Ping was answered (the proxy cut it or refused it); answered = a 200 came back;
// closed = connections closed cleanly after SIGTERM. On SIGTERM every connection is ended (TLS close_notify, FIN),
// then the process exits. One process holds at most what its descriptor limit allows: run several for more.
//   node bench/dist/bench/peers/idle-pings.js <port> <count> [heartbeat-ms] [concurrency]
import tls from 'node:tls';

const port = Number(process.argv[2]);
const count = Number(process.argv[3] ?? 1000);
const heartbeatMs = Number(process.argv[4] ?? 3_540_000);
const concurrency = Number(process.argv[5] ?? 50);
const body = Buffer.from([0x03, 0x01, 0x6a, 0x00, 0x00, 0x0d, 0x45, 0x48, 0x03, 0x39, 0x30, 0x30, 0x00, 0x01, 0x01]); // WBXML Ping, HeartbeatInterval 900
const head =
  'POST /Microsoft-Server-ActiveSync?Cmd=Ping&User=user1&DeviceId=BENCH0000&DeviceType=iPhone HTTP/1.1\r\n' +
  'Host: mail.contoso.lab\r\nAuthorization: Basic YWxpY2VAY29udG9zby5sYWI6UGFzc3cwcmQ=\r\nMS-ASProtocolVersion: 16.1\r\n' +
  `Content-Type: application/vnd.ms-sync.wbxml\r\nX-Test-Heartbeat-Ms: ${heartbeatMs}\r\nContent-Length: ${body.length}\r\n\r\n`;
const sockets = new Set<tls.TLSSocket>();
let held = 0;
let failed = 0;
let answered = 0;
let closed = 0;
let stopping = false;
const failures = new Map<string, number>();

function openOne(): Promise<void> {
  return new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] });
    let state: 'connecting' | 'held' | 'answered' | 'gone' = 'connecting';
    let seen = '';
    const fail = (why: string): void => {
      if (state === 'gone' || state === 'answered') return;
      if (state === 'held') held--;
      else resolve();
      state = 'gone';
      failed++;
      failures.set(why, (failures.get(why) ?? 0) + 1);
    };
    s.once('secureConnect', () => {
      s.write(head);
      s.write(body);
      state = 'held';
      held++;
      resolve();
    });
    s.on('data', (d: Buffer) => {
      if (state !== 'held') return;
      seen += d.toString('latin1');
      const end = seen.indexOf('\r\n\r\n');
      if (end < 0) return;
      const status = /^HTTP\/1\.1 (\d{3})/.exec(seen)?.[1] ?? '???';
      const length = Number(/content-length:\s*(\d+)/i.exec(seen.slice(0, end))?.[1] ?? 0);
      if (status !== '200') return fail(`status ${status}`);
      if (seen.length - end - 4 < length) return;
      state = 'answered';
      held--;
      answered++;
    });
    s.on('error', (err: NodeJS.ErrnoException) => fail(err.code ?? 'error'));
    s.on('close', () => {
      if (stopping && state !== 'gone') closed++;
      else fail('closed');
      sockets.delete(s);
    });
    sockets.add(s);
  });
}

let lastLine = '';
let lastAt = 0;
/** A HELD line when something changed (at most every 250 ms), or every 2 s. */
function report(force = false): void {
  const line = `HELD ${held} ${failed} ${answered} ${closed}${failures.size ? ` ${JSON.stringify(Object.fromEntries(failures))}` : ''}\n`;
  if (!force && line === lastLine && Date.now() - lastAt < 2_000) return;
  process.stdout.write(line);
  lastLine = line;
  lastAt = Date.now();
}

setInterval(() => report(), 250);
let next = 0;
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (next < count) {
      next++;
      await openOne();
    }
  }),
);
process.stdout.write(`READY ${held} ${failed}\n`);
process.on('SIGTERM', () => {
  stopping = true;
  for (const s of sockets) s.end();
  const done = (): void => {
    report(true);
    process.exit(0);
  };
  setTimeout(done, 30_000);
  const poll = setInterval(() => sockets.size === 0 && done(), 50);
  poll.unref();
});
