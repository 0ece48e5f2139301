import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import type { CliIo } from "./cli-io.js";
import { runCli } from "./program.js";

function capture(signal?: AbortSignal) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { stdout: (t) => void out.push(t), stderr: (t) => void err.push(t), ...(signal ? { signal } : {}) };
  return { io, out: () => out.join(""), err: () => err.join("") };
}

const bookinfo = new URL("../bookinfo", import.meta.url).pathname;
const mesh = path.join(bookinfo, "mesh");

describe("xdskit translate", () => {
  it("prints what a sidecar gets, as YAML or JSON, optionally one kind", async () => {
    const yaml = capture();
    expect(await runCli(["translate", mesh, "-p", "default/productpage-v1"], yaml.io)).toBe(0);
    const dump = parse(yaml.out());
    expect(dump.proxy).toBe("sidecar~127.0.10.1~productpage-v1.default~default.svc.cluster.local");
    expect(dump.resources.Cluster.map((c: { name: string }) => c.name)).toContain(
      "outbound|9080|v2|reviews.default.svc.cluster.local",
    );
    const json = capture();
    expect(
      await runCli(["translate", mesh, "-p", "default/productpage-v1", "-o", "json", "--kind", "Listener"], json.io),
    ).toBe(0);
    const listeners = JSON.parse(json.out()).resources;
    expect(Object.keys(listeners)).toEqual(["Listener"]);
    expect(listeners.Listener.map((l: { name: string }) => l.name)).toContain("127.0.20.1_9080");
  });

  it("fails in one line for an unknown workload or kind", async () => {
    const c = capture();
    expect(await runCli(["translate", mesh, "-p", "default/nobody"], c.io)).toBe(1);
    expect(c.err()).toBe("xdskit: proxyOf: no Pod, Deployment or WorkloadEntry default/nobody in the configuration\n");
    const k = capture();
    expect(await runCli(["translate", mesh, "-p", "default/productpage-v1", "--kind", "Nope"], k.io)).toBe(1);
    expect(k.err()).toMatch(/^xdskit: --kind Nope: expected Cluster, /);
  });
});

describe("xdskit simulate", () => {
  it("says where a request goes and why, following the routing rules", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "xdskit-sim-"));
    try {
      fs.cpSync(mesh, dir, { recursive: true });
      const argv = [
        "simulate",
        dir,
        "-p",
        "default/productpage-v1",
        "--address",
        "127.0.20.1",
        "-u",
        "http://reviews:9080/reviews/0",
      ];
      const plain = capture();
      expect(await runCli(argv, plain.io)).toBe(0);
      expect(plain.out()).toMatch(/^result\s+cluster "outbound\|9080\|\|reviews\.default\.svc\.cluster\.local"$/m);
      fs.copyFileSync(
        path.join(bookinfo, "samples", "virtual-service-reviews-test-v2.yaml"),
        path.join(dir, "test-v2.yaml"),
      );
      const jason = capture();
      expect(await runCli([...argv, "-H", "end-user: jason", "-o", "json"], jason.io)).toBe(0);
      expect(JSON.parse(jason.out()).action).toMatchObject({
        kind: "cluster",
        cluster: "outbound|9080|v2|reviews.default.svc.cluster.local",
      });
      const other = capture();
      expect(await runCli([...argv, "-H", "end-user: mary"], other.io)).toBe(0);
      expect(other.out()).toMatch(/^result\s+cluster "outbound\|9080\|v1\|reviews\.default\.svc\.cluster\.local"$/m);
      const bad = capture();
      expect(await runCli([...argv, "-H", "no-colon"], bad.io)).toBe(1);
      expect(bad.err()).toBe('xdskit: --header no-colon: expected "name: value"\n');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("xdskit serve", () => {
  it("serves a config directory until interrupted, with its monitoring port", async () => {
    const controller = new AbortController();
    const c = capture(controller.signal);
    const exit = runCli(
      ["serve", mesh, "--xds-port", "0", "--xds-tls-port", "0", "--monitoring-port", "0", "--log-level", "silent"],
      c.io,
    );
    let line = "";
    for (let i = 0; i < 200 && !line; i++) {
      line = /monitoring (http:\/\/\S+)/.exec(c.err())?.[1] ?? "";
      if (!line) await new Promise((r) => setTimeout(r, 25));
    }
    expect(c.err()).toMatch(
      /^xdskit: serving .*mesh \(23 objects, \d+ diagnostics\): xDS 127\.0\.0\.1:\d+, xDS over TLS \+ CA :\d+, monitoring http:/,
    );
    expect((await fetch(`${line}/ready`)).status).toBe(200);
    const diagnostics = JSON.parse(await (await fetch(`${line}/debug/diagnostics`)).text());
    expect(Array.isArray(diagnostics)).toBe(true);
    controller.abort();
    expect(await exit).toBe(0);
    await expect(fetch(`${line}/ready`)).rejects.toThrow();
  });

  it("says what is wrong with a missing directory", async () => {
    const c = capture();
    expect(
      await runCli(
        [
          "serve",
          "/no/such/mesh",
          "--xds-port",
          "0",
          "--xds-tls-port",
          "0",
          "--monitoring-port",
          "0",
          "--log-level",
          "silent",
        ],
        c.io,
      ),
    ).toBe(1);
    expect(c.err()).toBe("xdskit: config path /no/such/mesh does not exist: give a YAML file or a directory\n");
  });
});

describe("xdskit ca", () => {
  it("creates a root and issues a workload certificate into files", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "xdskit-ca-"));
    try {
      const init = capture();
      expect(await runCli(["ca", "init", "--dir", path.join(dir, "ca")], init.io)).toBe(0);
      expect(init.out()).toMatch(/^CA in .*: trust domain cluster\.local, root valid until \d{4}-/);
      const issue = capture();
      const argv = [
        "ca",
        "issue",
        "--dir",
        path.join(dir, "ca"),
        "-n",
        "default",
        "--service-account",
        "bookinfo-reviews",
      ];
      expect(await runCli([...argv, "--out", path.join(dir, "reviews"), "--ttl", "3600"], issue.io)).toBe(0);
      expect(issue.out()).toMatch(/^spiffe:\/\/cluster\.local\/ns\/default\/sa\/bookinfo-reviews until /);
      expect(fs.readFileSync(path.join(dir, "reviews", "cert-chain.pem"), "utf8")).toContain("BEGIN CERTIFICATE");
      expect(fs.statSync(path.join(dir, "reviews", "key.pem")).mode & 0o777).toBe(0o600);
      const bad = capture();
      expect(await runCli([...argv, "--out", dir, "--ttl", "soon"], bad.io)).toBe(1);
      expect(bad.err()).toBe("xdskit: --ttl soon: expected seconds > 0\n");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
