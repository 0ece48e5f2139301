import { describe, expect, it } from "vitest";
import { loadConfig } from "../config/loader.js";
import type { MeshService } from "../registry/model.js";
import { hostMatches, mostSpecificMatch, resolveHost } from "./hosts.js";
import { buildMesh, egressAllows, resolveGateway } from "./mesh.js";

const svc = (name: string, ns: string) => `
apiVersion: v1
kind: Service
metadata: { name: ${name}, namespace: ${ns} }
spec: { ports: [{ name: http, port: 9080 }] }`;

const dr = (name: string, ns: string, host: string, extra = "") => `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: ${name}, namespace: ${ns}, creationTimestamp: "2026-01-0${name.length % 9}T00:00:00Z" }
spec:
  host: "${host}"
${extra}`;

describe("host names", () => {
  it("resolves short names against the object's namespace and matches wildcards", () => {
    expect(resolveHost("reviews", "shop", "cluster.local")).toBe("reviews.shop.svc.cluster.local");
    expect(resolveHost("reviews.other", "shop", "cluster.local")).toBe("reviews.other");
    expect(resolveHost("*", "shop", "cluster.local")).toBe("*");
    expect(hostMatches("*.example.com", "a.b.example.com")).toBe(true);
    expect(hostMatches("*.example.com", "example.com")).toBe(false);
    expect(
      mostSpecificMatch("a.shop.svc.cluster.local", ["*", "*.svc.cluster.local", "*.shop.svc.cluster.local"]),
    ).toBe("*.shop.svc.cluster.local");
    expect(resolveGateway("bookinfo-gateway", "default")).toBe("default/bookinfo-gateway");
    expect(resolveGateway("istio-system/gw", "default")).toBe("istio-system/gw");
  });
});

describe("buildMesh", () => {
  const find = (mesh: ReturnType<typeof buildMesh>, host: string) =>
    mesh.registry.byHostname.get(host)?.[0] as MeshService;

  it("looks DestinationRules up in the proxy's namespace, then the service's (exported), then the root namespace", () => {
    const text = [
      svc("reviews", "shop"),
      dr("local", "client", "reviews.shop.svc.cluster.local", "  subsets: [{ name: c, labels: { v: c } }]"),
      dr("owner", "shop", "reviews", "  subsets: [{ name: s, labels: { v: s } }]"),
      dr("private", "shop", "*.shop.svc.cluster.local", '  exportTo: ["."]'),
      dr("root", "istio-system", "*.svc.cluster.local", "  subsets: [{ name: r, labels: { v: r } }]"),
    ].join("\n---\n");
    const mesh = buildMesh(loadConfig(text));
    const reviews = find(mesh, "reviews.shop.svc.cluster.local");
    expect(mesh.destinationRule("client", reviews)?.subsets.map((s) => s.name)).toEqual(["c"]);
    expect(mesh.destinationRule("shop", reviews)?.subsets.map((s) => s.name)).toEqual(["s"]);
    expect(mesh.destinationRule("elsewhere", reviews)?.subsets.map((s) => s.name)).toEqual(["s"]);
    expect(mesh.destinationRule("istio-system", reviews)?.subsets.map((s) => s.name)).toEqual(["s"]);
  });

  it("merges DestinationRules of one host: subsets concatenated, the oldest traffic policy wins", () => {
    const text = [
      svc("reviews", "shop"),
      dr(
        "a",
        "shop",
        "reviews",
        "  trafficPolicy: { loadBalancer: { simple: RANDOM } }\n  subsets: [{ name: v1, labels: { v: '1' } }]",
      ),
      dr(
        "bb",
        "shop",
        "reviews",
        "  trafficPolicy: { loadBalancer: { simple: ROUND_ROBIN } }\n  subsets: [{ name: v2, labels: { v: '2' } }, { name: v1, labels: { v: x } }]",
      ),
    ].join("\n---\n");
    const mesh = buildMesh(loadConfig(text));
    const rule = mesh.destinationRule("shop", find(mesh, "reviews.shop.svc.cluster.local"));
    expect(rule?.subsets.map((s) => [s.name, s.labels?.v])).toEqual([
      ["v1", "1"],
      ["v2", "2"],
    ]);
    expect(rule?.trafficPolicy?.loadBalancer?.simple).toBe(2); // RANDOM
    expect(rule?.keys).toEqual(["DestinationRule/shop/a", "DestinationRule/shop/bb"]);
  });

  it("binds VirtualServices to mesh by default, to listed gateways otherwise, and applies exportTo", () => {
    const text = `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: r, namespace: shop }
spec: { hosts: [reviews], http: [{ route: [{ destination: { host: reviews } }] }] }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: g, namespace: shop }
spec: { hosts: ["*"], gateways: [gw], http: [{ route: [{ destination: { host: reviews } }] }] }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: p, namespace: shop }
spec: { hosts: [ratings], exportTo: ["."], http: [{ route: [{ destination: { host: ratings } }] }] }
`;
    const mesh = buildMesh(loadConfig(text));
    expect(mesh.virtualServicesFor("mesh", "shop").map((v) => [v.name, v.hosts[0]])).toEqual([
      ["p", "ratings.shop.svc.cluster.local"],
      ["r", "reviews.shop.svc.cluster.local"],
    ]);
    expect(mesh.virtualServicesFor("mesh", "other").map((v) => v.name)).toEqual(["r"]);
    expect(mesh.virtualServicesFor("shop/gw", "istio-system").map((v) => v.name)).toEqual(["g"]);
  });

  it("picks the Sidecar that selects the workload, else the namespace's, else the root namespace's", () => {
    const text = `
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: ns-wide, namespace: shop }
spec: { egress: [{ hosts: ["./*", "istio-system/*"] }] }
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: pp, namespace: shop }
spec:
  workloadSelector: { labels: { app: productpage } }
  egress: [{ port: { number: 9080, protocol: HTTP, name: http }, bind: 127.0.0.1, captureMode: NONE, hosts: ["*/reviews.shop.svc.cluster.local"] }]
  outboundTrafficPolicy: { mode: REGISTRY_ONLY }
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: default, namespace: istio-system }
spec: { egress: [{ hosts: ["*/*"] }], outboundTrafficPolicy: { mode: ALLOW_ANY } }
`;
    const mesh = buildMesh(loadConfig(text));
    const pp = mesh.sidecarScope("shop", { app: "productpage" });
    expect(pp.key).toBe("Sidecar/shop/pp");
    expect(pp.outboundTrafficPolicy).toBe("REGISTRY_ONLY");
    expect(pp.egress[0]).toMatchObject({ bind: "127.0.0.1", captureMode: "NONE", port: { number: 9080 } });
    const other = mesh.sidecarScope("shop", { app: "reviews" });
    expect(other.key).toBe("Sidecar/shop/ns-wide");
    const egress = other.egress[0];
    expect(egress && egressAllows(egress, "shop", "a.shop.svc.cluster.local")).toBe(true);
    expect(egress && egressAllows(egress, "web", "a.web.svc.cluster.local")).toBe(false);
    expect(mesh.sidecarScope("web", {}).key).toBe("Sidecar/istio-system/default");
    expect(buildMesh(loadConfig(svc("a", "b"))).sidecarScope("b", {}).key).toBe("default");
  });
});
