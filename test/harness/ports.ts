// Free loopback ports for servers that cannot bind port 0 themselves (or whose port must be known up front).
import net from "node:net";

const handedOut = new Set<number>();

/**
 * A TCP port on 127.0.0.1 that was free a moment ago. Never returns the same port twice in this process;
 * another process may still take it before the caller binds, so prefer binding port 0 where possible.
 */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = net.createServer();
      server.unref();
      server.once("error", reject);
      server.listen({ host, port: 0, exclusive: true }, () => {
        const address = server.address();
        const port = typeof address === "object" && address ? address.port : 0;
        server.close(() => resolve(port));
      });
    });
    if (port > 0 && !handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`freePort: no free port on ${host}`);
}

/** `freePort()` for each name, e.g. `await freePorts(["http", "https"])` → `{ http: 41234, https: 41235 }`. */
export async function freePorts<N extends string>(names: readonly N[], host = "127.0.0.1"): Promise<Record<N, number>> {
  const ports = {} as Record<N, number>;
  for (const name of names) ports[name] = await freePort(host);
  return ports;
}
