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
    // One warning Istio gives too: the sample's second rule follows a rule without matches (IST0130).
    expect(c.out()).toMatch(
      /^\S+fault-injection-details-v1\.yaml:18:5: warning IST0130 VirtualService default\/details .*\n$/,
    );
    expect(c.err()).toMatch(/^0 errors, 1 warning in \d+ objects from 21 files\n$/);
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

  it("checks gateway credential Secrets as the control plane does", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "xdskit-validate-secret-"));
    try {
      fs.writeFileSync(
        path.join(dir, "secret.yaml"),
        "apiVersion: v1\nkind: Secret\nmetadata: { name: web-cert, namespace: istio-system }\ntype: kubernetes.io/tls\ndata:\n  tls.crt: '%%%'\n",
      );
      const c = capture();
      expect(await runCli(["validate", dir], c.io)).toBe(1);
      expect(c.out()).toBe(
        [
          `${path.join(dir, "secret.yaml")}:6:3: error XDS_INVALID_CREDENTIAL Secret istio-system/web-cert at data["tls.crt"]: data["tls.crt"] must be base64 text`,
          "",
        ].join("\n"),
      );
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
