import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { CliIo } from "./cli-io.js";
import { runCli } from "./program.js";

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { stdout: (t) => void out.push(t), stderr: (t) => void err.push(t) };
  return { io, out: () => out.join(""), err: () => err.join("") };
}

const bookinfo = new URL("../../../../test/fixtures/istio/bookinfo", import.meta.url).pathname;

describe("xdskit validate / analyze", () => {
  it("passes Istio's Bookinfo samples (exit 0) and counts what it read", async () => {
    const c = capture();
    expect(await runCli(["validate", path.join(bookinfo, "networking")], c.io)).toBe(0);
    // Istio's own samples validate; warnings (e.g. IST0130, a rule after a catch-all) do not fail the run.
    for (const line of c.out().split("\n").filter(Boolean)) expect(line).toMatch(/:\d+:\d+: warning IST\d{4} /);
    expect(c.err()).toMatch(/^0 errors, \d+ warnings? in \d+ objects from 21 files\n$/);
  });

  it("reports each problem at file:line with its code, and exits 1 on errors", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "xdskit-validate-"));
    try {
      fs.writeFileSync(
        path.join(dir, "reviews.yaml"),
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: { name: reviews }\nspec:\n  hosts: 5\n",
      );
      fs.writeFileSync(path.join(dir, "broken.yaml"), "kind: [\n");
      for (const command of ["validate", "analyze"]) {
        const c = capture();
        expect(await runCli([command, dir], c.io)).toBe(1);
        const lines = c.out().trimEnd().split("\n");
        expect(lines).toHaveLength(2);
        expect(lines[0]).toMatch(new RegExp(`^${path.join(dir, "broken.yaml")}:\\d+:\\d+: error XDS_YAML_SYNTAX`));
        expect(lines[1]).toMatch(
          new RegExp(
            `^${path.join(dir, "reviews.yaml")}:[45]:\\d+: error \\w+ VirtualService default/reviews at spec(\\.hosts)?: .*(hosts|list)`,
          ),
        );
        expect(c.err()).toContain(`xdskit: ${command} found 2 errors\n`);
        const json = capture();
        expect(await runCli([command, dir, "-o", "json"], json.io)).toBe(1);
        expect(JSON.parse(json.out()).diagnostics.map((d: { severity: string }) => d.severity)).toEqual([
          "error",
          "error",
        ]);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("says which path does not exist", async () => {
    const c = capture();
    expect(await runCli(["validate", "/no/such/mesh"], c.io)).toBe(1);
    expect(c.err()).toBe("xdskit: config path /no/such/mesh does not exist: give a YAML file or a directory\n");
  });
});
