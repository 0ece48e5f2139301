import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createSnapshot, createSnapshotCache } from "@xdskit/core";
import { buildMesh, generate, loadConfig, proxyOf } from "@xdskit/translate";
import { afterAll, describe, expect, it } from "vitest";
import { startMonitoringServer } from "../monitoring/monitoring-server.js";
import { snapshotToJson } from "../monitoring/sync-status.js";
import type { CliIo } from "./cli-io.js";
import { runCli } from "./program.js";

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { stdout: (t) => void out.push(t), stderr: (t) => void err.push(t) };
  return { io, out: () => out.join(""), err: () => err.join("") };
}

const repo = new URL("../../../..", import.meta.url).pathname;
const example = path.join(repo, "examples/route-tests");
const mesh = path.join(example, "mesh");
const tests = path.join(example, "tests");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "xdskit-test-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const failing = path.join(tmp, "failing.yaml");
fs.writeFileSync(
  failing,
  `testCases:
- description: bots on /cart get the fault
  wantMatch: true
  request: { authority: [shop.example], method: [GET], uri: [/cart], headers: { x-request-class: bot } }
  fault: { abort: { httpStatus: 403, percentage: { value: 100 } } }
`,
);

describe("xdskit test", () => {
  it("passes the example's tests in all three formats, exit 0, and writes JUnit XML", async () => {
    const c = capture();
    const junit = path.join(tmp, "junit.xml");
    expect(await runCli(["test", mesh, "-t", tests, "--junit", junit], c.io), c.err()).toBe(0);
    expect(c.out()).toMatch(/^PASS {2}.*shop-istio-config-validator\.yml \(document 2\): Bot traffic is refused/m);
    expect(c.out()).toMatch(/^PASS {2}.*shop-router-check\.json: home redirects$/m);
    expect(c.out()).toMatch(/^PASS {2}.*shop\.routes\.yaml: bots are refused$/m);
    expect(c.out()).toMatch(/^21 passed, 0 failed, 0 errors \(\d+ requests\)$/m);
    expect(c.err()).toMatch(
      /^xdskit test: 21 test cases against router~127\.0\.0\.1~istio-ingressgateway\.istio-system~/,
    );
    const xml = fs.readFileSync(junit, "utf8");
    expect(xml.match(/<testsuite /g)).toHaveLength(4);
    expect(xml).toMatch(/<testsuites name="xdskit test" tests="21" failures="0" errors="0"/);
  });

  it("fails with a readable diff (expected, actual, the route that matched and why), exit 1", async () => {
    const c = capture();
    expect(await runCli(["test", mesh, "-t", failing, "-q"], c.io)).toBe(1);
    expect(c.out()).toContain(
      [
        `FAIL  ${failing}: bots on /cart get the fault`,
        "      GET http://shop.example/cart [x-request-class: bot]",
        "        fault:",
        '          expected {"abort":{"httpStatus":403,"percentage":{"value":100}}}',
        "          actual   null",
        '        matched: route "cart" of virtual host "shop.example:8080" in route configuration "http.8080" → cluster (random pick)',
        "        why:",
      ].join("\n"),
    );
    expect(c.out()).toMatch(/✗ route #0 "cart-beta" \(prefix "\/cart", header x-beta\): no — header x-beta is absent/);
    expect(c.out()).toMatch(/^0 passed, 1 failed, 0 errors \(1 requests\)$/m);
    expect(c.err()).not.toMatch(/^xdskit: /m);
  });

  it("-o json gives every case, request and mismatch, and the coverage", async () => {
    const c = capture();
    expect(await runCli(["test", mesh, "-t", failing, "-o", "json"], c.io)).toBe(1);
    const json = JSON.parse(c.out());
    expect(json.proxy).toMatch(/^router~/);
    expect(json.failed).toBe(1);
    expect(json.cases[0]).toMatchObject({
      format: "istio-config-validator",
      status: "failed",
      requests: [{ passed: false, mismatches: [{ field: "fault", actual: null, wantMatch: true }] }],
    });
    expect(json.coverage).toMatchObject({ total: 16, covered: 1 });
  });

  it("--fail-under fails a passing run whose route coverage is too low", async () => {
    const routes = path.join(tests, "shop-istio-config-validator.yml");
    const ok = capture();
    expect(await runCli(["test", mesh, "-t", routes, "--fail-under", "50"], ok.io)).toBe(0);
    const low = capture();
    expect(await runCli(["test", mesh, "-t", routes, "--fail-under", "60"], low.io)).toBe(1);
    expect(low.out()).toMatch(/^route coverage: 8 of 16 routes \(50\.0%\)/m);
    expect(low.err()).toMatch(/route coverage 50\.0% is under --fail-under 60%\n$/);
  });

  it("tests a sidecar's view with --proxy (and --address, like simulate)", async () => {
    const file = path.join(tmp, "sidecar.yaml");
    fs.writeFileSync(
      file,
      `tests:
- name: reviews from productpage
  request: { url: http://reviews:9080/reviews/0 }
  expect: { cluster: outbound|9080||reviews.default.svc.cluster.local }
`,
    );
    const bookinfo = path.join(repo, "packages/xdskit/src/bookinfo/mesh");
    const c = capture();
    const argv = ["test", bookinfo, "-t", file, "-p", "default/productpage-v1", "--address", "127.0.20.1"];
    expect(await runCli(argv, c.io), c.out()).toBe(0);
    expect(c.err()).toMatch(/against sidecar~127\.0\.10\.1~productpage-v1\.default~/);
    // Without --address: the outbound listener on the port, not the inbound one beside it.
    const outbound = capture();
    expect(await runCli(argv.slice(0, -2), outbound.io), outbound.out()).toBe(0);
    // The reviews default route, in the sidecar's route configuration "9080" of five virtual hosts.
    expect(outbound.out()).toMatch(/^ {2}9080: 1 of 5$/m);
  });

  it("runs against what a running control plane serves its gateway", async () => {
    const loaded = loadConfig(
      fs.readdirSync(mesh).map((f) => ({ file: f, text: fs.readFileSync(path.join(mesh, f), "utf8") })),
    );
    const built = buildMesh(loaded);
    const id = "router~127.0.0.9~gw.istio-system~istio-system.svc.cluster.local";
    const proxy = proxyOf(built, {
      id,
      metadata: { NAMESPACE: "istio-system", LABELS: { istio: "ingressgateway" } } as never,
    });
    const cache = createSnapshotCache();
    cache.setSnapshot(id, createSnapshot({ version: "1", resources: { ...generate(built, proxy) } }));
    const monitoring = await startMonitoringServer({
      port: 0,
      tracker: cache.tracker,
      configDump: (p) => {
        const snapshot = cache.getSnapshot(p);
        return snapshot ? snapshotToJson(snapshot) : undefined;
      },
    });
    try {
      const router = path.join(tests, "shop-router-check.json");
      const ok = capture();
      expect(await runCli(["test", "--control-plane", monitoring.url, "-t", router, "-p", id], ok.io), ok.err()).toBe(
        0,
      );
      expect(ok.out()).toMatch(/^5 passed, 0 failed/m);
      const none = capture();
      expect(await runCli(["test", "--control-plane", monitoring.url, "-t", router], none.io)).toBe(1);
      expect(none.err()).toBe(
        `xdskit: ${monitoring.url} has no gateway connected: give --proxy <node id> (see xdskit proxy-status --monitoring ${monitoring.url})\n`,
      );
      const icv = capture();
      expect(await runCli(["test", "--control-plane", monitoring.url, "-t", failing, "-p", id], icv.io)).toBe(1);
      expect(icv.err()).toMatch(/^xdskit: .*failing\.yaml: istio-config-validator tests compare Istio objects, .*\n$/);
    } finally {
      await monitoring.close();
    }
  });

  it("says what is wrong in one line", async () => {
    const bad = path.join(tmp, "bad.yaml");
    fs.writeFileSync(
      bad,
      "tests:\n- test_name: x\n  input: { authority: a, path: /, dynamic_metadata: [] }\n  validate: { cluster_name: c }\n",
    );
    const cases: Array<[string[], RegExp]> = [
      [
        ["test", mesh, "-t", bad],
        /^xdskit: .*bad\.yaml: test "x"\.input\.dynamic_metadata: dynamic metadata is not supported/,
      ],
      [["test", "-t", bad], /^xdskit: give the config to test \(files or directories\), or --control-plane <url>$/],
      [
        ["test", mesh, "-t", failing, "--fail-under", "120"],
        /^xdskit: --fail-under 120: expected a percentage from 0 to 100$/,
      ],
      [["test", mesh, "-t", path.join(tmp, "missing.yaml")], /^xdskit: --tests: .*missing\.yaml/],
      [["test", mesh, "-t", failing, "-p", "nobody"], /^xdskit: --proxy nobody: give namespace\/workload/],
    ];
    for (const [argv, message] of cases) {
      const c = capture();
      expect(await runCli(argv, c.io), argv.join(" ")).toBe(1);
      expect(c.err().trimEnd().split("\n").at(-1), argv.join(" ")).toMatch(message);
    }
  });

  it("works as `npm run xdskit -- test` (the executable from the sources)", async () => {
    const result = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
      execFile(
        process.execPath,
        ["--conditions=source", "--import", "tsx", "packages/xdskit/src/cli.ts", "test", mesh, "-t", failing, "-q"],
        { cwd: repo, timeout: 60_000 },
        (error, stdout) => resolve({ code: error ? ((error as { code?: number }).code ?? null) : 0, stdout }),
      );
    });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^0 passed, 1 failed, 0 errors \(1 requests\)$/m);
  }, 90_000);
});
