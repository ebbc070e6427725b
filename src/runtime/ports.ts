import net from 'node:net';

export class PortInUse extends Error {
  override name = 'PortInUse';
}

/** Rejects with a PortInUse naming the port (and what it is for) when something already listens there. */
export async function assertPortFree(port: number, what: string, host = '127.0.0.1'): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EADDRINUSE' || e.code === 'EACCES') {
        reject(new PortInUse(`port ${port} (${what}) is already in use on ${host}; free it or choose another port`));
      } else reject(e);
    });
    srv.listen(port, host, () => srv.close(() => resolve()));
  });
}

/** A port the OS reports free right now. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}
