// The snippets in docs/*.md marked `<!-- snippet: NAME -->` run here as a reader would copy them: Envoy
// bootstraps against a real Envoy, the gRPC control plane, bootstrap and client as three real programs. Only
// the ports are changed (15010 → the xDS server's, 50051 → the upstream's), so docs cannot drift.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { createSnapshotCache, snapshotFromJson } from "@xdskit/core";
import { createXdsServer, type StreamInfo } from "@xdskit/server";
import { afterAll, describe, expect, it } from "vitest";
import { startEnvoy } from "../harness/envoy.js";
import { freePort } from "../harness/ports.js";
import { type GrpcUpstream, startGrpcUpstream } from "../harness/upstreams.js";

const ROOT = new URL("../..", import.meta.url).pathname;
const run = promisify(execFile);

/** Every `<!-- snippet: NAME -->` of docs/*.md followed by a fenced block: NAME → the block's text. */
function docSnippets(): Map<string, string> {
  const snippets = new Map<string, string>();
  const docs = path.join(ROOT, "docs");
  for (const file of fs.readdirSync(docs).filter((f) => f.endsWith(".md"))) {
    const text = fs.readFileSync(path.join(docs, file), "utf8");
    for (const match of text.matchAll(/<!-- snippet: ([\w-]+) -->\s*```\w*\n([\s\S]*?)\n```/g)) {
      const [, name, body] = match;
      if (name && body !== undefined) snippets.set(name, body);
    }
  }
  return snippets;
}

const snippets = docSnippets();
function snippet(name: string): string {
  const text = snippets.get(name);
  if (text === undefined) throw new Error(`docs have no snippet "${name}"`);
  return text;
}

describe("docs/envoy.md: Envoy bootstraps for ADS", () => {
  for (const [name, delta] of [
    ["envoy-ads-sotw", false],
    ["envoy-ads-delta", true],
  ] as const) {
    it(`${name}: Envoy connects with ${delta ? "DeltaAggregatedResources" : "StreamAggregatedResources"} and applies the snapshot`, async () => {
      const json = JSON.parse(fs.readFileSync(path.join(ROOT, "examples/hello-envoy/snapshot.json"), "utf8"));
      const snapshot = snapshotFromJson(json);
      const cache = createSnapshotCache();
      cache.setSnapshot("edge-envoy-1", snapshot);
      const streams: StreamInfo[] = [];
      const server = createXdsServer({ cache, callbacks: { onStreamOpen: (info) => void streams.push(info) } });
      const port = await server.listen("127.0.0.1:0");
      const bootstrap = snippet(name);
      expect(bootstrap).toContain("port_value: 15010");
      const envoy = await startEnvoy({ bootstrap: bootstrap.replace("port_value: 15010", `port_value: ${port}`) });
      try {
        await cache.awaitApplied("edge-envoy-1", snapshot.version, { timeoutMs: 15_000 });
        expect(streams.map((s) => [s.method, s.delta])).toEqual([
          [
            `/envoy.service.discovery.v3.AggregatedDiscoveryService/${delta ? "Delta" : "Stream"}AggregatedResources`,
            delta,
          ],
        ]);
      } finally {
        await envoy.stop();
        await server.close({ graceMs: 500 });
      }
    }, 30_000);
  }
});

describe("docs/grpc.md: a proxyless gRPC client, its bootstrap and its control plane", () => {
  const dir = path.join(ROOT, ".tmp", `docs-snippets-${process.pid}`);
  const children: ChildProcess[] = [];
  let upstream: GrpcUpstream | undefined;
  afterAll(async () => {
    for (const child of children) child.kill();
    await upstream?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Writes the three snippets (ports filled in, `edit` applied to the control plane), starts the control plane. */
  async function startSnippets(edit: (controlPlane: string) => string = (text) => text) {
    fs.mkdirSync(dir, { recursive: true });
    upstream ??= await startGrpcUpstream({ service: "hello", version: "v1" });
    const xdsPort = await freePort();
    const controlPlane = snippet("grpc-control-plane");
    expect(controlPlane).toContain("127.0.0.1:15010");
    expect(controlPlane).toContain("port_value: 50051");
    fs.writeFileSync(
      path.join(dir, "control-plane.ts"),
      edit(
        controlPlane.replaceAll("127.0.0.1:15010", `127.0.0.1:${xdsPort}`).replaceAll("50051", String(upstream.port)),
      ),
    );
    fs.writeFileSync(
      path.join(dir, "xds-bootstrap.json"),
      snippet("grpc-bootstrap").replace("127.0.0.1:15010", `127.0.0.1:${xdsPort}`),
    );
    fs.writeFileSync(path.join(dir, "client.mjs"), snippet("grpc-client").replace("10_000", "3_000"));

    const server = spawn(process.execPath, ["--conditions=source", "--import", "tsx", "control-plane.ts"], {
      cwd: dir,
      stdio: ["ignore", "pipe", "pipe"],
    });
    children.push(server);
    const output = { text: "" };
    server.stderr?.on("data", (chunk: Buffer) => {
      output.text += chunk.toString();
    });
    await new Promise<void>((resolve, reject) => {
      server.stdout?.on("data", (chunk: Buffer) => {
        output.text += chunk.toString();
        if (output.text.includes(`xDS server on 127.0.0.1:${xdsPort}`)) resolve();
      });
      server.on("exit", (code) => reject(new Error(`control plane exited (${code}): ${output.text}`)));
    });
    const client = await run(process.execPath, ["client.mjs"], {
      cwd: dir,
      env: { ...process.env, GRPC_XDS_BOOTSTRAP: "xds-bootstrap.json" },
      timeout: 20_000,
    }).catch((error: { stdout?: string; stderr?: string; message: string }) => ({
      stdout: `${error.stdout ?? ""}${error.stderr ?? ""}`,
    }));
    server.kill();
    return { client: client.stdout.trim(), controlPlane: output };
  }

  it("the client connects to xds:///hello through the control plane", async () => {
    const { client, controlPlane } = await startSnippets();
    expect(client).toBe("connected to xds:///hello through the xDS server");
    // The snapshot has a locality on every endpoint group: no warning, and the client rejected nothing.
    expect(controlPlane.text).not.toMatch(/warning|rejected/);
  }, 40_000);

  it("without a locality the check warns and the gRPC client rejects the endpoints, as the doc says", async () => {
    const { client, controlPlane } = await startSnippets((text) => {
      expect(text).toContain('locality: { region: "local" },');
      return text.replace('locality: { region: "local" },', "");
    });
    expect(client).toBe("not connected: Failed to connect before the deadline");
    expect(controlPlane.text).toContain(
      'warning ClusterLoadAssignment "hello" at endpoints[0].locality: has no locality: gRPC clients reject the whole ClusterLoadAssignment',
    );
    expect(controlPlane.text).toMatch(
      /grpc-client-1 rejected type\.googleapis\.com\/envoy\.config\.endpoint\.v3\.ClusterLoadAssignment: .*endpoints\[0\]\.locality unset/,
    );
  }, 40_000);
});
