// The shared test setup cleans up after itself: when the gateway cannot start (a config it refuses), the mock CAS
// servers already started are closed again, so a failing beforeAll leaves no listener behind to hang the run.
import { createServer } from 'node:net';
import { expect, test } from 'vitest';
import { startCasAndGateway } from '../helpers/cas-and-gateway.js';

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

async function canListen(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

test('a gateway that fails to start rejects, and the CAS servers started for it are closed', async () => {
  const port = await freePort();
  await expect(startCasAndGateway(1, { pools: { cas: { balance: 'no-such-policy' } } }, () => ({ httpPort: port }))).rejects.toThrow();
  expect(await canListen(port)).toBe(true);
});

test('started, it serves through the gateway; stop() closes the CAS servers', async () => {
  const port = await freePort();
  const env = await startCasAndGateway(2, { pools: { cas: { health: { enabled: false } } } }, (i) => (i === 0 ? { httpPort: port } : {}));
  expect(env.cas.map((c) => c.name)).toEqual(['cas1', 'cas2']);
  expect((await env.gw.get('/owa/healthcheck.htm')).status).toBe(200);
  expect(await canListen(port)).toBe(false);
  await env.stop();
  expect(await canListen(port)).toBe(true);
});
