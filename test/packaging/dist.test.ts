// The published shape of the packages: the built ESM and CJS entry points (not the TypeScript sources)
// load and work on Node 20 (the `engines` minimum) and on Node 24. Each runtime is the one running the tests
// when its major matches, else the copy `npm run node:install` unpacked into .cache; each child is asserted to
// really be that major.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { nodeRuntime } from "../harness/install-node.mjs";

const run = promisify(execFile);
const root = new URL("../..", import.meta.url).pathname;

// Builds a snapshot, serves it, and fetches it back over a real gRPC stream, all through the built packages.
const esmScript = `
import { createSnapshot, createSnapshotCache, resourceTypes, DiscoveryRequest, DiscoveryResponse, Cluster, Cluster_DiscoveryType } from "@xdskit/core";
import { createXdsServer } from "@xdskit/server";
import * as grpc from "@grpc/grpc-js";
const cache = createSnapshotCache();
cache.setSnapshot("pkg", createSnapshot({ resources: { Cluster: [{ name: "from-dist", type: Cluster_DiscoveryType.EDS, edsClusterConfig: { edsConfig: { ads: {} } } }] } }));
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
const watcher = require("@xdskit/core/watcher");
console.log(process.version, typeof core.createSnapshotCache, typeof server.createXdsServer, typeof umbrella.createXdsServer, typeof watcher.sotwResponseFrom);
`;

// The CA reads a CSR in a worker thread of the built package (dist/csr-worker.js or .cjs beside the entry point).
const certsBody = `
const pool = createCsrWorkerPool({ workers: 1 });
const ca = await createCertificateAuthority({ csrReader: pool });
const keys = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
const id = "spiffe://cluster.local/ns/pkg/sa/worker";
const signed = await ca.sign(createCsr(id, keys.privateKey, keys.publicKey), id);
const refused = await ca.sign("not a csr", id).catch((error) => error.code);
console.log(process.version, signed.certChain.length, refused);
await pool.close();
`;
const certsEsmScript = `import { generateKeyPairSync } from "node:crypto";
import { createCertificateAuthority, createCsr, createCsrWorkerPool } from "@xdskit/certs";
${certsBody}`;
const certsCjsScript = `const { generateKeyPairSync } = require("node:crypto");
const { createCertificateAuthority, createCsr, createCsrWorkerPool } = require("@xdskit/certs");
(async () => {${certsBody}})();`;

// The Bookinfo demo from the built CLI and xdskit/bookinfo: its YAML is found next to the installed code.
const bookinfoScript = `
import fs from "node:fs";
import { bookinfoDir, readWorkloads } from "xdskit/bookinfo";
const samples = fs.readdirSync(bookinfoDir() + "/samples").filter((f) => f.endsWith(".yaml")).length;
console.log(process.version, readWorkloads(bookinfoDir() + "/mesh/platform.yaml").length, samples);
`;

describe("built packages", () => {
  it("the suite runs on the Node that started it, not on a dependency's node first on PATH", () => {
    // npm puts node_modules/.bin first on the PATH of scripts: no dependency may provide a `node` there.
    expect(existsSync(path.join(root, "node_modules/.bin/node"))).toBe(false);
  });

  for (const major of [20, 24] as const) {
    it(`load as ESM and CJS and serve a stream on Node ${major}`, async () => {
      const bin = nodeRuntime(major);
      if (!existsSync(bin)) throw new Error(`Node ${major} is not installed at ${bin}: run npm run node:install`);
      expect(existsSync(path.join(root, "packages/core/dist/index.js")), "run npm run build first").toBe(true);
      const esm = await run(bin, ["--input-type=module", "-e", esmScript], { cwd: root, timeout: 30_000 });
      expect(esm.stdout).toMatch(new RegExp(`^v${major}\\.\\d+\\.\\d+ from-dist$`, "m"));
      const cjs = await run(bin, ["-e", cjsScript], { cwd: root, timeout: 30_000 });
      expect(cjs.stdout).toMatch(new RegExp(`^v${major}\\.\\d+\\.\\d+ function function function function$`, "m"));
      for (const certs of [
        await run(bin, ["--input-type=module", "-e", certsEsmScript], { cwd: root, timeout: 30_000 }),
        await run(bin, ["-e", certsCjsScript], { cwd: root, timeout: 30_000 }),
      ])
        expect(certs.stdout).toMatch(new RegExp(`^v${major}\\.\\d+\\.\\d+ 2 INVALID_ARGUMENT$`, "m"));
      const bookinfo = await run(bin, ["--input-type=module", "-e", bookinfoScript], { cwd: root, timeout: 30_000 });
      expect(bookinfo.stdout).toMatch(new RegExp(`^v${major}\\.\\d+\\.\\d+ 6 8$`, "m"));
      const help = await run(bin, ["packages/xdskit/dist/cli.js", "demo", "--help"], { cwd: root, timeout: 30_000 });
      expect(help.stdout).toMatch(/Usage: xdskit demo/);
    });
  }

  it("npm pack of xdskit ships the CLI, xdskit/bookinfo and the demo's YAML with its license", async () => {
    const { stdout } = await run("npm", ["pack", "--dry-run", "--json"], {
      cwd: path.join(root, "packages/xdskit"),
      timeout: 60_000,
    });
    const files = (JSON.parse(stdout) as { files: { path: string }[] }[])[0]?.files.map((f) => f.path) ?? [];
    expect(files).toEqual(
      expect.arrayContaining([
        "dist/cli.js",
        "dist/bookinfo.js",
        "dist/bookinfo.d.ts",
        "src/bookinfo/mesh/platform.yaml",
        "src/bookinfo/mesh/bookinfo-gateway.yaml",
        "src/bookinfo/mesh/destination-rule-all.yaml",
        "src/bookinfo/samples/LICENSE",
        "src/bookinfo/samples/virtual-service-all-v1.yaml",
        "src/bookinfo/samples/virtual-service-ratings-test-abort.yaml",
        "src/bookinfo/samples/virtual-service-reviews-50-v3.yaml",
      ]),
    );
  });
});
