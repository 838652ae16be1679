// One listening port of the mock that can stop accepting and start again on the same port (control "accept").
// Stopping closes the listening socket, so new connections are refused the way a stopped IIS refuses them,
// while connections already open live on.
import type { AddressInfo, Server } from 'node:net';

export class Listener {
  port = 0;

  constructor(
    readonly server: Server,
    private readonly host: string,
  ) {
    server.on('error', () => undefined);
  }

  async start(port: number): Promise<void> {
    if (this.server.listening) return;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.server.once('error', onError);
      this.server.listen({ port, host: this.host }, () => {
        this.server.removeListener('error', onError);
        resolve();
      });
    });
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** Stop accepting; does not wait for open connections (they may be hour-long channels). */
  async stop(): Promise<void> {
    if (!this.server.listening) return;
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      // close() calls back only when every connection has ended; the listening socket is closed already.
      setImmediate(resolve);
    });
  }
}
