import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Cluster_DiscoveryType, createSnapshot, createSnapshotCache } from "@xdskit/core";
import { createXdsServer } from "@xdskit/server";
import { describe, expect, it } from "vitest";
import { createControlPlane } from "../control-plane/control-plane.js";
import { startMonitoringServer } from "../monitoring/monitoring-server.js";
import type { CliIo } from "./cli-io.js";
import { createProgram, runCli } from "./program.js";

function capture(signal?: AbortSignal) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { stdout: (t) => void out.push(t), stderr: (t) => void err.push(t), ...(signal ? { signal } : {}) };
  return { io, out: () => out.join(""), err: () => err.join("") };
}

describe("xdskit CLI", () => {
  it("has --help with examples on every command", async () => {
    const names = createProgram(capture().io).commands.map((c) => c.name());
    expect(names).toEqual(expect.arrayContaining(["bootstrap", "proxy", "proxy-status", "validate", "analyze"]));
    for (const argv of [["--help"], ...names.map((n) => [n, "--help"])]) {
      const c = capture();
      expect(await runCli(argv, c.io), argv.join(" ")).toBe(0);
      expect(c.out(), argv.join(" ")).toMatch(/Examples:\n {2}\$ xdskit /);
    }
  });

  it("prints a workload's Envoy and gRPC bootstraps", async () => {
    const c = capture();
    const argv = ["bootstrap", "--ip", "127.0.0.3", "--name", "reviews-v2", "-l", "app=reviews", "-l", "version=v2"];
    expect(await runCli([...argv, "--delta", "--service-account", "bookinfo-reviews"], c.io)).toBe(0);
    const envoy = JSON.parse(c.out());
    expect(envoy.node.id).toBe("sidecar~127.0.0.3~reviews-v2.default~default.svc.cluster.local");
    expect(envoy.node.metadata.LABELS).toEqual({ app: "reviews", version: "v2" });
    expect(envoy.node.metadata.SERVICE_ACCOUNT).toBe("bookinfo-reviews");
    expect(envoy.dynamic_resources.ads_config.api_type).toBe("DELTA_GRPC");
    const g = capture();
    expect(await runCli([...argv, "--grpc", "--discovery-address", "127.0.0.1:15999"], g.io)).toBe(0);
    expect(JSON.parse(g.out()).xds_servers[0].server_uri).toBe("127.0.0.1:15999");
  });

  it.each([
    [["nope"], "xdskit: error: unknown command 'nope' (see xdskit --help)"],
    [
      ["bootstrap", "--name", "x"],
      "xdskit bootstrap: error: required option '--ip <address>' not specified (see xdskit bootstrap --help)",
    ],
    [["bootstrap", "--ip", "1.2.3", "--name", "x"], 'xdskit: bootstrap: ip must be an IP address, got "1.2.3"'],
    [
      ["bootstrap", "--ip", "127.0.0.1", "--name", "x", "-l", "app"],
      "xdskit: --label app: expected key=value, e.g. --label app=reviews",
    ],
    [["proxy-status", "-o", "yaml"], "xdskit: --output yaml: expected table or json"],
    [
      ["proxy", "--ip", "127.0.0.1", "--name", "x", "--token-file", "/t"],
      "xdskit: --token-file needs --xds-tls-dir <dir>: where the agent writes the certificate it gets",
    ],
    [["proxy", "--ip", "127.0.0.1", "--name", "x", "--root-cert", "/r.pem"], "xdskit: --root-cert needs --token-file"],
    [
      ["proxy", "--ip", "127.0.0.1", "--name", "x", "--xds-tls-dir", "/d", "--token-file", "/t", "--cert-ttl", "0"],
      "xdskit: --cert-ttl 0: expected a number of seconds > 0",
    ],
  ])("%j fails with one clear line and exit code 1", async (argv, line) => {
    const c = capture();
    expect(await runCli(argv, c.io)).toBe(1);
    expect(c.err()).toBe(`${line}\n`);
    expect(c.out()).toBe("");
  });

  it("proxy-status reads a control plane's /debug/syncz as a table or JSON, and says when it cannot", async () => {
    const cache = createSnapshotCache();
    cache.tracker; // the monitoring server reads this tracker
    const monitoring = await startMonitoringServer({ port: 0, tracker: cache.tracker });
    try {
      const table = capture();
      expect(await runCli(["proxy-status", "--monitoring", monitoring.url], table.io)).toBe(0);
      expect(table.out()).toBe("NAME  CLUSTER  CDS  LDS  EDS  RDS  SDS\n");
      const json = capture();
      expect(await runCli(["proxy-status", "--monitoring", monitoring.url, "-o", "json"], json.io)).toBe(0);
      expect(JSON.parse(json.out())).toEqual([]);
    } finally {
      await monitoring.close();
    }
    const down = capture();
    expect(await runCli(["proxy-status", "--monitoring", monitoring.url], down.io)).toBe(1);
    expect(down.err()).toMatch(
      /^xdskit: cannot reach .*\/debug\/syncz \(.+\): is the control plane running\? \(--monitoring\)\n$/,
    );
  });

  it("proxy runs Envoy on the control plane until interrupted, then exits 0 (real Envoy)", async () => {
    const cache = createSnapshotCache();
    const server = createXdsServer({ cache });
    const port = await server.listen("127.0.0.1:0");
    const nodeId = "sidecar~127.0.0.1~details-v1.default~default.svc.cluster.local";
    const snapshot = createSnapshot({
      resources: {
        Cluster: [{ name: "c", type: Cluster_DiscoveryType.EDS, edsClusterConfig: { edsConfig: { ads: {} } } }],
      },
    });
    cache.setSnapshot(nodeId, snapshot);
    const controller = new AbortController();
    const c = capture(controller.signal);
    try {
      const argv = ["proxy", "--ip", "127.0.0.1", "--name", "details-v1", "--admin-port", "0", "--drain-ms", "0"];
      const exit = runCli([...argv, "--discovery-address", `127.0.0.1:${port}`], c.io);
      // Envoy applying the snapshot proves the bootstrap and the supervision; the CLI ending first is a failure.
      const applied = cache.awaitApplied(nodeId, snapshot.version, { timeoutMs: 15_000 });
      const first = await Promise.race([applied.then(() => "applied"), exit.then((code) => `exited ${code}`)]);
      expect(first, c.err()).toBe("applied");
      controller.abort();
      expect(await exit).toBe(0);
      expect(c.err()).toContain(`for ${nodeId} (xDS 127.0.0.1:${port})`);
      expect(c.err()).toContain("xdskit: draining and stopping Envoy");
    } finally {
      await server.close({ graceMs: 100 });
    }
  });

  it("proxy --token-file gets its 15012 certificate from the control plane; a refused token ends with the reason", async () => {
    const cp = await createControlPlane({
      translator: { update: () => [], resourcesFor: () => ({}) },
      xds: { port: 0 },
      xdsTls: {
        port: 0,
        verifyToken: ({ token }) => (token === "good" ? "spiffe://cluster.local/ns/default/sa/details" : undefined),
      },
      monitoring: false,
      logger: { level: "silent" },
    });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "xdskit-cli-token-"));
    fs.writeFileSync(path.join(dir, "root-cert.pem"), cp.ca?.trustBundle.join("") ?? "");
    fs.writeFileSync(path.join(dir, "good"), "good\n");
    fs.writeFileSync(path.join(dir, "bad"), "bad\n");
    const argv = (token: string) => [
      ...["proxy", "--ip", "127.0.0.1", "--name", "details-v1", "--service-account", "details"],
      ...["--admin-port", "0", "--drain-ms", "0", "--discovery-address", `127.0.0.1:${cp.ports.xdsTls}`],
      ...["--xds-tls-dir", dir, "--token-file", path.join(dir, token)],
    ];
    try {
      const refused = capture();
      expect(await runCli(argv("bad"), refused.io)).toBe(1);
      expect(refused.err()).toMatch(
        /^xdskit: agent for details-v1: no xDS client certificate for spiffe:\/\/cluster\.local\/ns\/default\/sa\/details: the CA at 127\.0\.0\.1:\d+ refused the agent's credentials \(UNAUTHENTICATED\): bearer token refused\n$/,
      );
      const controller = new AbortController();
      const c = capture(controller.signal);
      const exit = runCli(argv("good"), c.io);
      const nodeId = "sidecar~127.0.0.1~details-v1.default~default.svc.cluster.local";
      // Envoy's stream over mTLS with the fetched certificate is what makes the proxy show up at the control plane.
      for (let i = 0; i < 600 && !cp.status().proxies.some((p) => p.proxy === nodeId); i++)
        await new Promise((r) => setTimeout(r, 25));
      expect(
        cp.status().proxies.map((p) => p.proxy),
        c.err(),
      ).toContain(nodeId);
      expect(c.err()).toMatch(
        /xdskit: certificate issued for spiffe:\/\/cluster\.local\/ns\/default\/sa\/details, valid until \S+, renewing at \S+\n/,
      );
      controller.abort();
      expect(await exit).toBe(0);
    } finally {
      await cp.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("proxy forwards Envoy's failure as a non-zero exit", async () => {
    const c = capture();
    const argv = [
      "proxy",
      "--ip",
      "127.0.0.1",
      "--name",
      "x",
      "--admin-port",
      "0",
      "--max-restarts",
      "0",
      "--envoy",
      "/bin/false",
    ];
    expect(await runCli(argv, c.io)).toBe(1);
    expect(c.err()).toBe("xdskit: /bin/false is not Envoy: `/bin/false --version` failed (exit code 1)\n");
  });
});
