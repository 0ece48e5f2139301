// `xdskit apply` against a plain watched directory, and what `xdskit demo` says before it starts anything. The
// demo itself (real Envoy, the tutorial end to end) is examples/bookinfo/demo.test.ts.
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { CliIo } from "./cli-io.js";
import { runCli } from "./program.js";

const samples = new URL("../bookinfo/samples", import.meta.url).pathname;
const demoMesh = new URL("../bookinfo/mesh", import.meta.url).pathname;
const dirs: string[] = [];
const tempDir = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "xdskit-apply-"));
  dirs.push(dir);
  return dir;
};
/** A watched directory as `xdskit demo` starts it: Bookinfo's services, DestinationRules and gateway. */
const meshDir = () => {
  const dir = tempDir();
  fs.cpSync(demoMesh, dir, { recursive: true });
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

async function xdskit(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { stdout: (t) => void out.push(t), stderr: (t) => void err.push(t) };
  const code = await runCli(argv, io);
  return { code, out: out.join(""), err: err.join("") };
}

describe("xdskit apply", () => {
  it("copies a valid file into --dir with a first line saying where it came from; applying again changes it", async () => {
    const dir = meshDir();
    const before = fs.readdirSync(dir);
    const sample = path.join(samples, "virtual-service-reviews-test-v2.yaml");
    const first = await xdskit("apply", sample, "--dir", dir);
    // Clean against the demo's objects: no analysis output, not even the directory's own findings (IST0173).
    expect(first).toMatchObject({ code: 0, err: "" });
    expect(first.out).toBe(`applied ${sample} -> ${path.join(dir, "virtual-service-reviews-test-v2.yaml")}\n`);
    const copied = fs.readFileSync(path.join(dir, "virtual-service-reviews-test-v2.yaml"), "utf8");
    expect(copied).toMatch(new RegExp(`^# xdskit apply ${sample} at \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z\\n`));
    expect(copied.slice(copied.indexOf("\n") + 1)).toBe(fs.readFileSync(sample, "utf8"));
    expect(fs.readdirSync(dir).sort()).toEqual([...before, "virtual-service-reviews-test-v2.yaml"].sort()); // no temporary file left
    await new Promise((r) => setTimeout(r, 5));
    expect((await xdskit("apply", sample, "--dir", dir)).code).toBe(0);
    expect(fs.readFileSync(path.join(dir, "virtual-service-reviews-test-v2.yaml"), "utf8")).not.toBe(copied);
  });

  it("rejects a file with errors: diagnostics at file:line, nothing copied, exit 1", async () => {
    const dir = tempDir();
    const bad = path.join(tempDir(), "reviews.yaml");
    fs.writeFileSync(
      bad,
      "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: { name: reviews }\nspec:\n  hosts: [reviews]\n  http:\n  - route:\n    - destination: { subset: v1 }\n",
    );
    const good = path.join(samples, "virtual-service-all-v1.yaml");
    const result = await xdskit("apply", good, bad, "--dir", dir);
    expect(result.code).toBe(1);
    expect(result.err).toContain(`${bad}:8:7: error`);
    expect(result.err).toMatch(/destination\.host/);
    expect(result.err).toMatch(/xdskit: nothing applied: \d+ errors? \(above\)\n$/);
    expect(fs.readdirSync(dir)).toEqual([]); // not even the valid file: all or nothing
  });

  it("warns about references the watched directory cannot resolve (IST0101) and applies anyway", async () => {
    const dir = meshDir();
    const unknownSubset = path.join(tempDir(), "reviews-v9.yaml");
    fs.writeFileSync(
      unknownSubset,
      "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: { name: reviews }\nspec:\n  hosts: [reviews]\n  http:\n  - route:\n    - destination: { host: reviews, subset: v9 }\n",
    );
    const result = await xdskit("apply", unknownSubset, "--dir", dir);
    expect(result.code).toBe(0);
    expect(result.err).toBe(
      `${unknownSubset}:8:37: warning IST0101 VirtualService default/reviews at spec.http[0].route[0].destination.subset: Referenced host+subset in destinationrule not found: "reviews+v9"\n`,
    );
    expect(result.out).toBe(`applied ${unknownSubset} -> ${path.join(dir, "reviews-v9.yaml")}\n`);
    expect(fs.existsSync(path.join(dir, "reviews-v9.yaml"))).toBe(true);
  });

  it("analyzes the directory as the apply leaves it: a replaced file's objects are gone, findings it causes are shown", async () => {
    const dir = meshDir();
    // Replacing the DestinationRules' file with one without reviews' rule breaks the VirtualService already there.
    fs.copyFileSync(path.join(samples, "virtual-service-reviews-test-v2.yaml"), path.join(dir, "reviews.yaml"));
    const rules = path.join(tempDir(), "destination-rule-all.yaml");
    const documents = fs.readFileSync(path.join(demoMesh, "destination-rule-all.yaml"), "utf8").split("---\n");
    fs.writeFileSync(rules, documents.filter((doc) => !/^ {2}name: reviews$/m.test(doc)).join("---\n"));
    expect(fs.readFileSync(rules, "utf8")).not.toContain("host: reviews");
    const result = await xdskit("apply", rules, "--dir", dir);
    expect(result.code).toBe(0);
    const findings = result.err.trim().split("\n");
    expect(findings.map((line) => line.replace(/:\d+:\d+:/, ":L:"))).toEqual(
      expect.arrayContaining([
        `${path.join(dir, "reviews.yaml")}:L: warning IST0101 VirtualService default/reviews at spec.http[0].route[0].destination.subset: Referenced host+subset in destinationrule not found: "reviews+v2"`,
        `${path.join(dir, "reviews.yaml")}:L: warning IST0101 VirtualService default/reviews at spec.http[1].route[0].destination.subset: Referenced host+subset in destinationrule not found: "reviews+v1"`,
      ]),
    );
    // Findings on the directory's other files that were there before the apply are not repeated.
    expect(findings.filter((line) => line.startsWith(path.join(dir, "platform.yaml")))).toEqual([]);
  });

  it("says what to do when there is no directory to apply to, or no such file", async () => {
    const none = await xdskit("apply", path.join(samples, "virtual-service-all-v1.yaml"), "--demo-dir", tempDir());
    expect(none.code).toBe(1);
    expect(none.err).toMatch(/^xdskit: no `xdskit demo` running in .*: start it here first, or give --dir/);
    const missing = await xdskit("apply", "/no/such.yaml", "--dir", tempDir());
    expect(missing).toMatchObject({ code: 1, err: "xdskit: /no/such.yaml: no such file\n" });
    const empty = path.join(tempDir(), "empty.yaml");
    fs.writeFileSync(empty, "# nothing\n");
    expect((await xdskit("apply", empty, "--dir", tempDir())).err).toMatch(/nothing applied: no Istio objects/);
  });
});

describe("xdskit demo", () => {
  it("fails at once, in one line naming the port, when one of its fixed ports is taken", async () => {
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.once("error", () => resolve()).listen(19085, "127.0.0.1", resolve));
    try {
      const dir = tempDir();
      const result = await xdskit("demo", "--dir", dir);
      expect(result.code).toBe(1);
      expect(result.err).toMatch(/^xdskit: port \d+ \(.+\) is in use: .*xdskit demo --free-ports\)\n$/m);
      expect(fs.existsSync(path.join(dir, "demo.json"))).toBe(false);
    } finally {
      holder.close();
    }
  });
});
