import http from 'node:http';
import type { Express } from 'express';
import { PortInUse } from '../runtime/ports';

/** Listens on host:port; a taken port rejects with a PortInUse that names it. */
export async function listen(app: Express, port: number, host: string): Promise<http.Server> {
  const server = http.createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EADDRINUSE')
        reject(new PortInUse(`port ${port} (gateway) is already in use on ${host}; set GATEWAY_PORT or free it`));
      else reject(e);
    });
    server.listen(port, host, () => resolve());
  });
  server.keepAliveTimeout = 65_000;
  return server;
}

export async function close(server: http.Server): Promise<void> {
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
