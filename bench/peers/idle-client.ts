// Opens N TLS connections, sends one GET on each, keeps them open and idle, and prints "READY <ok> <failed>" once all
// are settled; exits on SIGTERM. bench/peers reads the proxy's RSS meanwhile.
//   node bench/dist/bench/peers/idle-client.js <port> <count> [path]
import tls from 'node:tls';

const port = Number(process.argv[2]);
const count = Number(process.argv[3] ?? 2000);
const path = process.argv[4] ?? '/__mock/static';
const sockets: tls.TLSSocket[] = [];
let ok = 0;
let failed = 0;

function openOne(): Promise<void> {
  return new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] });
    let seen = '';
    const done = (good: boolean): void => {
      if (good) ok++;
      else failed++;
      resolve();
    };
    const timer = setTimeout(() => done(false), 20_000);
    s.once('secureConnect', () => s.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`));
    s.on('data', (d: Buffer) => {
      if (seen === 'done') return;
      seen += d.toString('latin1');
      const end = seen.indexOf('\r\n\r\n');
      if (end < 0) return;
      const length = Number(/content-length:\s*(\d+)/i.exec(seen.slice(0, end))?.[1] ?? 0);
      if (seen.length - end - 4 >= length) {
        seen = 'done';
        clearTimeout(timer);
        done(true);
      }
    });
    s.on('error', () => {
      clearTimeout(timer);
      if (seen !== 'done') {
        seen = 'done';
        done(false);
      }
    });
    sockets.push(s);
  });
}

let next = 0;
const workers = Array.from({ length: 50 }, async () => {
  while (next < count) {
    next++;
    await openOne();
  }
});
await Promise.all(workers);
process.stdout.write(`READY ${ok} ${failed}\n`);
setInterval(() => undefined, 1 << 30); // hold the connections until stopped
process.on('SIGTERM', () => process.exit(0));
