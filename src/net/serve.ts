// Listening and closing, shared by every listener casgate runs (HTTPS, HTTP redirect, admin). Plain node:net, no casgate
// knowledge, so it sits at the bottom: the admin listener uses it without depending on the client-facing front end.
import type { Server } from 'node:net';
import type { AddressInfo } from 'node:net';

/** Starts listening; rejects with the listen error (EADDRINUSE, EACCES) instead of emitting it. */
export function listenOn(server: Server, port: number, address: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}

/** Stops accepting and closes every open connection, idle or not. */
export function closeServer(server: Server & { closeAllConnections?: () => void }): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections?.();
  });
}
