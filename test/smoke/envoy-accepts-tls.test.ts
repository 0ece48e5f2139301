// Envoy accepts what translate generates for upstream TLS origination (system roots, auto_sni /
// auto_san_validation, SANs of any type) and for sidecar TLS ports (SNI filter chains, PassthroughFilterChain),
// checked with `envoy --mode validate` on the generated clusters and L4 listeners as static resources.
import { Bootstrap, Cluster_DiscoveryType, messageToJson } from "@xdskit/core";
import { buildMesh, generate, loadConfig, proxyOf } from "@xdskit/translate";
import { describe, expect, it } from "vitest";
import { validateBootstrap } from "../harness/envoy.js";
import { oracleScenarios } from "../istiod-oracle/cases.js";

function staticResourcesOf(scenarioName: string): NonNullable<Bootstrap["staticResources"]> {
  const scenario = oracleScenarios().find((s) => s.name === scenarioName);
  if (!scenario) throw new Error(`no scenario ${scenarioName}`);
  const mesh = buildMesh(
    loadConfig([
      { file: "kubernetes.yaml", text: scenario.kubernetes },
      { file: "istio.yaml", text: scenario.istio },
    ]),
  );
  const out = generate(mesh, proxyOf(mesh, `${scenario.proxy.namespace}/${scenario.proxy.name}`));
  // EDS clusters and RDS listeners need an ADS server; the rest stands alone. The MUTUAL rule's certificate
  // files do not exist here (Envoy checks the paths), so its clusters are left out.
  const clusters = out.Cluster.filter(
    (c) => c.type !== Cluster_DiscoveryType.EDS && !(c.name ?? "").endsWith("|mutual.example.com"),
  );
  const names = new Set(clusters.map((c) => c.name));
  const listeners = out.Listener.filter(
    (l) =>
      l.name !== "virtualInbound" &&
      (l.filterChains ?? []).every((c) => (c.filters ?? []).every((f) => f.name === "envoy.filters.network.tcp_proxy")),
  );
  expect(names.size).toBeGreaterThan(3);
  expect(listeners.length).toBeGreaterThan(1);
  return { clusters, listeners };
}

describe("Envoy accepts generated TLS configuration", () => {
  for (const name of ["tls-origination", "tls-sidecar-routes", "tls-sidecar-registry-only"])
    it(name, async () => {
      const bootstrap = Bootstrap.fromPartial({
        node: { id: "sidecar~10.1.0.5~sleep-1.default~default.svc.cluster.local", cluster: "sleep" },
        staticResources: staticResourcesOf(name),
      });
      const result = await validateBootstrap(
        messageToJson("envoy.config.bootstrap.v3.Bootstrap", Bootstrap, bootstrap) as object,
      );
      expect(result.output).not.toMatch(/error|rejected/i);
      expect(result.ok).toBe(true);
    }, 60_000);
});
