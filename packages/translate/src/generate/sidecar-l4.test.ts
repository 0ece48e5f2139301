// Sidecar TCP / TLS service ports: SNI filter chains from `tls` routes, `tcp` routes by destination subnet,
// the PassthroughFilterChain fallback, and SNI-less services sharing 0.0.0.0 (see sidecar-l4.ts).
import { describe, expect, it } from "vitest";
import { loadConfig } from "../config/loader.js";
import { buildMesh } from "../index/mesh.js";
import { simulate } from "../simulate/simulate.js";
import { generate } from "./generate.js";
import { proxyOf } from "./proxy.js";

const SECURE = "secure.shop.svc.cluster.local";

const platform = `
apiVersion: v1
kind: Service
metadata: { name: secure, namespace: shop }
spec:
  clusterIP: 10.96.1.20
  selector: { app: secure }
  ports:
  - { name: https, port: 443 }
  - { name: tls-db, port: 5443 }
  - { name: tcp-admin, port: 9000 }
---
apiVersion: v1
kind: Pod
metadata: { name: sleep-1, namespace: default, labels: { app: sleep } }
spec: { containers: [{ name: app, image: app }] }
status: { podIP: 10.1.0.5, phase: Running }
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: google, namespace: default }
spec:
  hosts: [www.google.com, maps.google.com]
  ports: [{ number: 443, name: tls, protocol: TLS }]
  location: MESH_EXTERNAL
  resolution: DNS
`;

const routes = `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: secure, namespace: shop }
spec:
  hosts: [${SECURE}, "*.secure.example"]
  tls:
  - match: [{ sniHosts: [admin.secure.example], sourceLabels: { app: other } }]
    route: [{ destination: { host: ${SECURE}, subset: v1 } }]
  - match: [{ sniHosts: [${SECURE}], port: 443 }]
    route: [{ destination: { host: ${SECURE}, subset: v2, port: { number: 443 } } }]
  - match: [{ sniHosts: ["*.secure.example"] }]
    route:
    - { destination: { host: ${SECURE}, subset: v1, port: { number: 443 } }, weight: 75 }
    - { destination: { host: ${SECURE}, subset: v2, port: { number: 443 } }, weight: 25 }
  - match: [{ sniHosts: [gw.secure.example], gateways: [istio-system/gw] }]
    route: [{ destination: { host: ${SECURE}, subset: v1 } }]
  tcp:
  - match: [{ destinationSubnets: [10.96.1.0/24], port: 9000 }]
    route: [{ destination: { host: ${SECURE}, subset: v2, port: { number: 9000 } } }]
`;

function resources(...extra: string[]) {
  const mesh = buildMesh(loadConfig([{ file: "mesh.yaml", text: [platform, ...extra].join("\n---\n") }]));
  return generate(mesh, proxyOf(mesh, "default/sleep-1"));
}

const tls = (address: string, port: number, sni: string) => ({ address, port, tls: { sni } });

describe("sidecar TLS and TCP service ports", () => {
  it("without tls routes, a VIP's TLS port is one chain to the service (no SNI match, no inspector)", () => {
    const out = resources();
    const listener = out.Listener.find((l) => l.name === "10.96.1.20_443");
    expect(listener?.listenerFilters ?? []).toEqual([]);
    expect(listener?.filterChains).toHaveLength(1);
    expect(listener?.defaultFilterChain).toBeUndefined();
    expect(simulate(out, tls("10.96.1.20", 443, "anything")).action).toMatchObject({
      kind: "tcp-proxy",
      cluster: `outbound|443||${SECURE}`,
    });
  });

  it("ServiceEntries without addresses share 0.0.0.0_443 and are told apart by SNI; the rest passes through", () => {
    const out = resources();
    const listener = out.Listener.find((l) => l.name === "0.0.0.0_443");
    expect(listener?.listenerFilters?.map((f) => f.name)).toEqual(["envoy.filters.listener.tls_inspector"]);
    expect(listener?.filterChains?.map((c) => c.filterChainMatch?.serverNames).sort()).toEqual([
      ["maps.google.com"],
      ["www.google.com"],
    ]);
    expect(simulate(out, tls("142.250.1.1", 443, "maps.google.com")).action).toMatchObject({
      cluster: "outbound|443||maps.google.com",
    });
    const other = simulate(out, tls("142.250.1.1", 443, "example.org"));
    expect(other.filterChain?.name).toBe("PassthroughFilterChain");
    expect(other.action).toMatchObject({ kind: "tcp-proxy", cluster: "PassthroughCluster" });
  });

  it("builds one SNI chain per tls match the proxy satisfies; an unknown SNI goes to PassthroughCluster", () => {
    const out = resources(routes);
    const listener = out.Listener.find((l) => l.name === "10.96.1.20_443");
    expect(listener?.listenerFilters?.map((f) => f.name)).toEqual(["envoy.filters.listener.tls_inspector"]);
    // sourceLabels app=other and gateway istio-system/gw do not apply to this sidecar.
    expect(listener?.filterChains?.map((c) => c.filterChainMatch?.serverNames)).toEqual([
      [SECURE],
      ["*.secure.example"],
    ]);
    expect(simulate(out, tls("10.96.1.20", 443, SECURE)).action).toMatchObject({
      cluster: `outbound|443|v2|${SECURE}`,
    });
    expect(simulate(out, tls("10.96.1.20", 443, "a.secure.example")).action).toMatchObject({
      kind: "tcp-proxy",
      weightedClusters: [
        { name: `outbound|443|v1|${SECURE}`, weight: 75 },
        { name: `outbound|443|v2|${SECURE}`, weight: 25 },
      ],
    });
    // Its own chain (source labels app=other) is left out, so the wildcard chain takes it.
    expect(simulate(out, tls("10.96.1.20", 443, "admin.secure.example")).action).toMatchObject({
      weightedClusters: [{ name: `outbound|443|v1|${SECURE}` }, { name: `outbound|443|v2|${SECURE}` }],
    });
    const unknown = simulate(out, tls("10.96.1.20", 443, "unknown.example.org"));
    expect(unknown.filterChain?.name).toBe("PassthroughFilterChain");
    expect(unknown.action).toMatchObject({ kind: "tcp-proxy", cluster: "PassthroughCluster" });
    // The 5443 port gets the chains whose match has no port (or 5443): the wildcard one only.
    const db = out.Listener.find((l) => l.name === "10.96.1.20_5443");
    expect(db?.filterChains?.map((c) => c.filterChainMatch?.serverNames)).toEqual([["*.secure.example"]]);
  });

  it("sends an unknown SNI to BlackHoleCluster under REGISTRY_ONLY", () => {
    const out = resources(
      routes,
      `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: default, namespace: default }
spec:
  egress: [{ hosts: ["*/*"] }]
  outboundTrafficPolicy: { mode: REGISTRY_ONLY }`,
    );
    expect(simulate(out, tls("10.96.1.20", 443, "unknown.example.org")).action).toMatchObject({
      cluster: "BlackHoleCluster",
    });
  });

  it("matches tcp routes by destination subnet, with the service's own cluster for the rest", () => {
    const out = resources(routes);
    const listener = out.Listener.find((l) => l.name === "10.96.1.20_9000");
    expect(listener?.filterChains?.map((c) => c.filterChainMatch?.prefixRanges)).toEqual([
      [{ addressPrefix: "10.96.1.0", prefixLen: 24 }],
    ]);
    expect(simulate(out, { address: "10.96.1.20", port: 9000 }).action).toMatchObject({
      cluster: `outbound|9000|v2|${SECURE}`,
    });
    // A connection handed to the listener for another address (virtualOutbound does that) takes the default.
    const rest = simulate(out, { listener: "10.96.1.20_9000", address: "10.97.0.1", port: 9000 });
    expect(rest.filterChain?.index).toBe("default");
    expect(rest.action).toMatchObject({ kind: "tcp-proxy", cluster: `outbound|9000||${SECURE}` });
  });
});
