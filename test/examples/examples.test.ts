// Every example runs in CI, so docs that point at them cannot drift.
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);

async function runExample(path: string): Promise<string> {
  const { stdout } = await run(process.execPath, ["--conditions=source", "--import", "tsx", path], {
    cwd: new URL("../..", import.meta.url).pathname,
    timeout: 60_000,
  });
  return stdout;
}

const ROOT = new URL("../..", import.meta.url).pathname;

/** Every module specifier imported by the .ts files under examples/: [file, specifier]. */
function exampleImports(): [string, string][] {
  const found: [string, string][] = [];
  const dir = path.join(ROOT, "examples");
  for (const file of fs.readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".ts"))) {
    const text = fs.readFileSync(path.join(dir, file), "utf8");
    for (const match of text.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+"([^"]+)"/gm))
      if (match[1]) found.push([`examples/${file}`, match[1]]);
  }
  return found;
}

describe("examples", () => {
  it("import only packages (published ones, never the repository's test harness) and their own files, so they can be copied out", () => {
    const imports = exampleImports();
    expect(imports.length).toBeGreaterThan(10);
    // Bare specifiers are packages (@xdskit/*, or any published one such as vitest); paths must stay inside examples/.
    const outside = imports.filter(([file, specifier]) => {
      if (specifier.startsWith("node:") || !/^[./]/.test(specifier)) return false;
      const target = path.resolve(path.dirname(path.join(ROOT, file)), specifier);
      return !target.startsWith(path.join(ROOT, "examples") + path.sep);
    });
    expect(outside).toEqual([]);
  });

  it("hello-envoy: Envoy gets the snapshot over ADS, ACKs every type, and proxies a request", async () => {
    const out = await runExample("examples/hello-envoy/main.ts");
    for (const type of ["Cluster", "ClusterLoadAssignment", "Listener", "RouteConfiguration"])
      expect(out).toMatch(new RegExp(`SYNCED envoy\\.config\\.\\w+\\.v3\\.${type} \\S+`));
    expect(out).toMatch(/via Envoy -> 200: hello from the upstream, you asked for \/productpage/);
  }, 90_000);

  it("live-endpoints: one LinearCache update moves Envoy's traffic with exactly one xDS response", async () => {
    const out = await runExample("examples/live-endpoints/main.ts");
    expect(out).toMatch(/before: .* -> reviews v1/);
    expect(out).toMatch(/after one LinearCache update: -> reviews v2 \(1 xDS response sent\)/);
  }, 90_000);

  it("embedded-control-plane: createControlPlane + cp.apply() from code route an Envoy gateway, live", async () => {
    const out = await runExample("examples/embedded-control-plane/main.ts");
    expect(out).toMatch(/^through the gateway: hello from v1$/m);
    expect(out).toMatch(/^after cp\.apply\(\): hello from v2$/m);
    expect(out).toMatch(/^an invalid VirtualService is rejected: .*route.* is required/m);
    expect(out).toMatch(/^and the last good one keeps serving: hello from v2$/m);
  }, 90_000);

  it("proxyless-grpc: a grpc-js-xds client routed by Istio YAML through createControlPlane, changed live", async () => {
    const out = await runExample("examples/proxyless-grpc/main.ts");
    expect(out).toMatch(/^jason: v2=10$/m);
    // 40 calls at 50/50: fewer than 8 of either has a probability below 1e-4.
    const [, v1, v2] = /^others: v1=(\d+) v2=(\d+)$/m.exec(out) ?? [];
    expect(Number(v1) + Number(v2), out).toBe(40);
    expect(Math.min(Number(v1), Number(v2)), out).toBeGreaterThanOrEqual(8);
    expect(out).toMatch(/^after cp\.apply\(\), jason: v1=10$/m);
  }, 90_000);

  it("unit-testing-routes: the example's vitest suite passes with the route simulator", async () => {
    const { stdout } = await run(
      process.execPath,
      ["node_modules/vitest/vitest.mjs", "run", "--config", "examples/unit-testing-routes/vitest.config.ts"],
      { cwd: new URL("../..", import.meta.url).pathname, timeout: 60_000, env: { ...process.env, NO_COLOR: "1" } },
    );
    expect(stdout).toMatch(/Tests\s+4 passed \(4\)/);
  }, 90_000);
});
