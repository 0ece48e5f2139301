import { createSnapshot, createSnapshotCache, type SnapshotCache, type SnapshotResources } from "@xdskit/core";
import { createXdsServer, type XdsServer, type XdsServerOptions } from "@xdskit/server";
import { RawXdsClient } from "./raw-ads-client.js";

export interface Harness {
  cache: SnapshotCache;
  server: XdsServer;
  address: string;
  client(): RawXdsClient;
  set(key: string, resources: SnapshotResources, version?: string): string;
  close(): Promise<void>;
}

/** An xdskit server on a free loopback port with a SnapshotCache keyed by node id. */
export async function startHarness(
  options: Partial<XdsServerOptions> = {},
  cache = createSnapshotCache(),
): Promise<Harness> {
  const server = createXdsServer({ ...options, cache });
  const port = await server.listen("127.0.0.1:0");
  const address = `127.0.0.1:${port}`;
  const clients: RawXdsClient[] = [];
  return {
    cache,
    server,
    address,
    client() {
      const c = new RawXdsClient(address);
      clients.push(c);
      return c;
    },
    set(key, resources, version) {
      const snapshot = createSnapshot({ resources, ...(version !== undefined ? { version } : {}) });
      cache.setSnapshot(key, snapshot);
      return snapshot.version;
    },
    async close() {
      for (const c of clients) c.close();
      await server.close({ graceMs: 500 });
    },
  };
}
