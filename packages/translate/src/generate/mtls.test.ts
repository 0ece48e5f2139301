import fs from "node:fs";
import path from "node:path";
import {
  type Cluster,
  DownstreamTlsContext,
  type Listener,
  type TransportSocket,
  UpstreamTlsContext,
  unpackAny,
  XdsKitError,
} from "@xdskit/core";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../config/loader.js";
import type { AnyConfigObject } from "../config/model.js";
import { buildMesh, type MeshOptions } from "../index/mesh.js";
import { simulate } from "../simulate/simulate.js";
import { createTranslator } from "../translator.js";
import { TYPE } from "./envoy.js";
import { generate } from "./generate.js";
import { proxyOf } from "./proxy.js";

const repo = path.resolve(import.meta.dirname, "../../../..");
const read = (rel: string) => ({ file: rel, text: fs.readFileSync(path.join(repo, rel), "utf8") });
const REVIEWS = "reviews.default.svc.cluster.local";

/** The no-Kubernetes Bookinfo, reviews-v1 and v2 with a sidecar (tlsMode label), v3 without, plus `extra` YAML. */
function objects(extra = ""): AnyConfigObject[] {
  const vms = read("test/fixtures/no-kubernetes/bookinfo-vms.yaml");
  const labelled = vms.text.replace(
    /labels: \{ app: reviews, version: (v1|v2) \}/g,
    "labels: { app: reviews, version: $1, security.istio.io/tlsMode: istio }",
  );
  expect(labelled).not.toBe(vms.text);
  const inputs = [
    { file: vms.file, text: labelled },
    read("test/fixtures/istio/bookinfo/networking/destination-rule-all.yaml"),
  ];
  if (extra) inputs.push({ file: "extra.yaml", text: extra });
  const result = loadConfig(inputs);
  expect(result.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
  return [...result.objects];
}

const meshOf = (extra = "", options: MeshOptions = {}) => buildMesh(objects(extra), options);
const productpage = (extra = "", options: MeshOptions = {}) => {
  const mesh = meshOf(extra, options);
  return generate(mesh, proxyOf(mesh, "default/productpage-v1"));
};
const cluster = (out: ReturnType<typeof generate>, name: string) => out.Cluster.find((c) => c.name === name) as Cluster;
const upstream = (socket: TransportSocket | undefined) =>
  unpackAny(socket?.typedConfig ?? {}, TYPE.upstreamTls, UpstreamTlsContext);
const downstream = (socket: TransportSocket | undefined) =>
  unpackAny(socket?.typedConfig ?? {}, TYPE.downstreamTls, DownstreamTlsContext);

const REVIEWS_ISTIO_MUTUAL = (tls: string) => `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews-tls, namespace: default }
spec:
  host: reviews
  trafficPolicy: { tls: ${tls} }
  subsets:
  - { name: v1, labels: { version: v1 } }
  - { name: v2, labels: { version: v2 } }
`;
const peerAuthentication = (namespace: string, name: string, spec: string, created = "2026-01-01T00:00:00Z") => `
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: ${name}, namespace: ${namespace}, creationTimestamp: "${created}" }
spec: ${spec}
`;

describe("mesh mTLS: clusters", () => {
  it("DestinationRule ISTIO_MUTUAL: istiod's SNI, ALPN, SDS secrets default/ROOTCA over ADS, SANs of the service accounts", () => {
    // Merged with destination-rule-all's rule for reviews, which has no traffic policy of its own.
    const out = productpage(REVIEWS_ISTIO_MUTUAL("{ mode: ISTIO_MUTUAL }"));
    const v1 = cluster(out, `outbound|9080|v1|${REVIEWS}`);
    expect(v1.transportSocketMatches ?? []).toEqual([]);
    expect(v1.transportSocket?.name).toBe("envoy.transport_sockets.tls");
    const tls = upstream(v1.transportSocket);
    expect(tls.sni).toBe(`outbound_.9080_.v1_.${REVIEWS}`);
    expect(tls.commonTlsContext?.alpnProtocols).toEqual(["istio-peer-exchange", "istio"]);
    const certificate = tls.commonTlsContext?.tlsCertificateSdsSecretConfigs ?? [];
    expect(certificate.map((c) => c.name)).toEqual(["default"]);
    expect(certificate[0]?.sdsConfig?.ads).toEqual({});
    expect(certificate[0]?.sdsConfig?.resourceApiVersion).toBe(2); // V3
    const validation = tls.commonTlsContext?.combinedValidationContext;
    expect(validation?.validationContextSdsSecretConfig?.name).toBe("ROOTCA");
    expect(validation?.defaultValidationContext?.matchSubjectAltNames).toEqual([
      { exact: "spiffe://cluster.local/ns/default/sa/bookinfo-reviews", ignoreCase: false },
    ]);
    expect(upstream(cluster(out, `outbound|9080||${REVIEWS}`).transportSocket).sni).toBe(
      `outbound_.9080_._.${REVIEWS}`,
    );
  });

  it("DestinationRule subjectAltNames and sni win; the trust domain comes from the mesh options", () => {
    const rule = REVIEWS_ISTIO_MUTUAL(
      '{ mode: ISTIO_MUTUAL, subjectAltNames: ["spiffe://other/ns/x/sa/y"], sni: my.sni }',
    );
    const out = productpage(rule);
    const tls = upstream(cluster(out, `outbound|9080|v2|${REVIEWS}`).transportSocket);
    expect(tls.sni).toBe("my.sni");
    expect(tls.commonTlsContext?.combinedValidationContext?.defaultValidationContext?.matchSubjectAltNames).toEqual([
      { exact: "spiffe://other/ns/x/sa/y", ignoreCase: false },
    ]);
    const other = productpage("", { trustDomain: "example.org" });
    const auto = cluster(other, `outbound|9080||${REVIEWS}`).transportSocketMatches?.[0]?.transportSocket;
    expect(
      upstream(auto).commonTlsContext?.combinedValidationContext?.defaultValidationContext?.matchSubjectAltNames,
    ).toEqual([{ exact: "spiffe://example.org/ns/default/sa/bookinfo-reviews", ignoreCase: false }]);
  });

  it("auto mTLS: tlsMode-istio → mTLS, default → plaintext; endpoints with a sidecar carry the match metadata", () => {
    const out = productpage();
    const c = cluster(out, `outbound|9080||${REVIEWS}`);
    expect(c.transportSocket).toBeUndefined();
    expect(c.transportSocketMatches?.map((m) => [m.name, m.match, m.transportSocket?.name])).toEqual([
      ["tlsMode-istio", { tlsMode: "istio" }, "envoy.transport_sockets.tls"],
      ["tlsMode-disabled", {}, "envoy.transport_sockets.raw_buffer"],
    ]);
    expect(upstream(c.transportSocketMatches?.[0]?.transportSocket).sni).toBe(`outbound_.9080_._.${REVIEWS}`);
    const metadataByAddress = Object.fromEntries(
      (out.ClusterLoadAssignment.find((a) => a.clusterName === `outbound|9080||${REVIEWS}`)?.endpoints ?? []).flatMap(
        (l) =>
          (l.lbEndpoints ?? []).map((e) => [
            e.endpoint?.address?.socketAddress?.address,
            e.metadata?.filterMetadata?.["envoy.transport_socket_match"],
          ]),
      ),
    );
    expect(metadataByAddress).toEqual({
      "10.0.0.21": { tlsMode: "istio" },
      "10.0.0.22": { tlsMode: "istio" },
      "10.0.0.23": undefined,
    });
  });

  it("auto mTLS follows the destination namespace's PeerAuthentication, else the mesh's; off when disabled or external", () => {
    const reviewsMatches = (extra: string, options: MeshOptions = {}) =>
      cluster(productpage(extra, options), `outbound|9080||${REVIEWS}`).transportSocketMatches?.length ?? 0;
    expect(reviewsMatches(peerAuthentication("default", "off", "{ mtls: { mode: DISABLE } }"))).toBe(0);
    expect(reviewsMatches(peerAuthentication("istio-system", "off", "{ mtls: { mode: DISABLE } }"))).toBe(0);
    // The namespace's policy wins over the mesh's; UNSET defers to the mesh's.
    expect(
      reviewsMatches(
        peerAuthentication("istio-system", "off", "{ mtls: { mode: DISABLE } }") +
          peerAuthentication("default", "on", "{ mtls: { mode: STRICT } }"),
      ),
    ).toBe(2);
    expect(
      reviewsMatches(
        peerAuthentication("istio-system", "off", "{ mtls: { mode: DISABLE } }") +
          peerAuthentication("default", "unset", "{ mtls: { mode: UNSET } }"),
      ),
    ).toBe(0);
    // Workload policies are not looked at by clients (istiod's best effort).
    expect(
      reviewsMatches(
        peerAuthentication("default", "w", "{ selector: { matchLabels: { app: reviews } }, mtls: { mode: DISABLE } }"),
      ),
    ).toBe(2);
    expect(reviewsMatches("", { enableAutoMtls: false })).toBe(0);
    // A DestinationRule TLS setting (here DISABLE) turns auto mTLS off for its clusters.
    expect(reviewsMatches(REVIEWS_ISTIO_MUTUAL("{ mode: DISABLE }"))).toBe(0);
    const external = productpage(`
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ext, namespace: default }
spec: { hosts: [api.example.com], location: MESH_EXTERNAL, resolution: DNS, ports: [{ number: 443, name: tls, protocol: TLS }] }`);
    expect(cluster(external, "outbound|443||api.example.com").transportSocketMatches ?? []).toEqual([]);
  });

  it("sdsConfig sds-grpc points the secrets at the agent's sds-grpc cluster, like istiod; a bad value is refused", () => {
    const out = productpage("", { sdsConfig: "sds-grpc" });
    const socket = cluster(out, `outbound|9080||${REVIEWS}`).transportSocketMatches?.[0]?.transportSocket;
    const source = upstream(socket).commonTlsContext?.tlsCertificateSdsSecretConfigs?.[0]?.sdsConfig;
    expect(source?.apiConfigSource?.grpcServices?.[0]?.envoyGrpc?.clusterName).toBe("sds-grpc");
    expect(source?.apiConfigSource?.setNodeOnFirstMessageOnly).toBe(true);
    expect(source?.ads).toBeUndefined();
    expect(() => meshOf("", { sdsConfig: "file" as never })).toThrow(XdsKitError);
    expect(() => meshOf("", { sdsConfig: "file" as never })).toThrow(/options\.sdsConfig/);
  });

  it("HTTP/2 ports add h2 to the ALPNs; passthrough services get the mTLS socket only when every endpoint has a sidecar", () => {
    const services = (dbLabels: string) => `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: grpc, namespace: default }
spec: { hosts: [grpc.default.svc.cluster.local], location: MESH_INTERNAL, resolution: STATIC, ports: [{ number: 7070, name: grpc, protocol: GRPC }], endpoints: [{ address: 10.1.0.1 }] }
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: db, namespace: default }
spec: { hosts: [db.default.svc.cluster.local], location: MESH_INTERNAL, resolution: NONE, ports: [{ number: 5432, name: tcp, protocol: TCP }], workloadSelector: { labels: { app: db } } }
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: db-1, namespace: default }
spec: { address: 10.2.0.1, labels: { app: db, security.istio.io/tlsMode: istio } }
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: db-2, namespace: default }
spec: { address: 10.2.0.2, labels: { app: db${dbLabels} } }`;
    const allSidecars = productpage(services(", security.istio.io/tlsMode: istio"));
    const grpc = cluster(allSidecars, "outbound|7070||grpc.default.svc.cluster.local");
    expect(upstream(grpc.transportSocketMatches?.[0]?.transportSocket).commonTlsContext?.alpnProtocols).toEqual([
      "istio-peer-exchange",
      "istio",
      "h2",
    ]);
    const db = cluster(allSidecars, "outbound|5432||db.default.svc.cluster.local");
    expect(db.type).toBe(4); // ORIGINAL_DST: no endpoint metadata to match on
    expect(db.transportSocketMatches ?? []).toEqual([]);
    expect(upstream(db.transportSocket).sni).toBe("outbound_.5432_._.db.default.svc.cluster.local");
    const mixed = cluster(productpage(services("")), "outbound|5432||db.default.svc.cluster.local");
    expect(mixed.transportSocket).toBeUndefined();
  });

  it("proxyless gRPC clients get no mesh mTLS", () => {
    const mesh = meshOf(REVIEWS_ISTIO_MUTUAL("{ mode: ISTIO_MUTUAL }"));
    const proxy = proxyOf(mesh, { id: "grpc-client", metadata: { NAMESPACE: "default", GENERATOR: "grpc" } });
    for (const c of generate(mesh, proxy).Cluster) {
      expect(c.transportSocket).toBeUndefined();
      expect(c.transportSocketMatches ?? []).toEqual([]);
    }
  });
});

describe("mesh mTLS: inbound filter chains from PeerAuthentication", () => {
  // productpage-v1 serves 9080 on 10.0.0.10 (its Sidecar's ingress, captureMode NONE).
  const inbound = (extra: string) => productpage(extra).Listener.find((l) => l.name === "10.0.0.10_9080") as Listener;
  const layout = (listener: Listener) =>
    (listener.filterChains ?? []).map((c) => ({
      transport: c.filterChainMatch?.transportProtocol,
      alpn: c.filterChainMatch?.applicationProtocols?.length ? "istio" : "",
      tls: c.transportSocket !== undefined,
    }));
  const PERMISSIVE = [
    { transport: "tls", alpn: "istio", tls: true },
    { transport: "raw_buffer", alpn: "", tls: false },
  ];
  const STRICT = [{ transport: "tls", alpn: "", tls: true }];
  const DISABLE = [{ transport: "raw_buffer", alpn: "", tls: false }];

  it("no policy is PERMISSIVE: an mTLS chain for Istio's ALPNs and a plaintext chain, behind a TLS inspector", () => {
    const listener = inbound("");
    expect(layout(listener)).toEqual(PERMISSIVE);
    expect(listener.filterChains?.[0]?.filterChainMatch?.applicationProtocols).toEqual([
      "istio",
      "istio-peer-exchange",
      "istio-http/1.0",
      "istio-http/1.1",
      "istio-h2",
    ]);
    expect(listener.listenerFilters?.map((f) => f.name)).toEqual(["envoy.filters.listener.tls_inspector"]);
    const tls = downstream(listener.filterChains?.[0]?.transportSocket);
    expect(tls.requireClientCertificate).toBe(true);
    expect(tls.commonTlsContext?.alpnProtocols).toEqual(["h2", "http/1.1"]);
    expect(tls.commonTlsContext?.tlsCertificateSdsSecretConfigs?.[0]?.name).toBe("default");
    expect(tls.commonTlsContext?.combinedValidationContext?.validationContextSdsSecretConfig?.name).toBe("ROOTCA");
  });

  it("precedence: workload over namespace over mesh, UNSET inherits, port level overrides, the oldest of a level wins", () => {
    const mesh = (mode: string) => peerAuthentication("istio-system", "mesh", `{ mtls: { mode: ${mode} } }`);
    const ns = (mode: string) => peerAuthentication("default", "ns", `{ mtls: { mode: ${mode} } }`);
    const workload = (spec: string, name = "pp", created?: string) =>
      peerAuthentication("default", name, `{ selector: { matchLabels: { app: productpage } }, ${spec} }`, created);
    expect(layout(inbound(mesh("STRICT")))).toEqual(STRICT);
    expect(layout(inbound(mesh("STRICT") + ns("DISABLE")))).toEqual(DISABLE);
    expect(layout(inbound(mesh("STRICT") + ns("UNSET")))).toEqual(STRICT);
    expect(layout(inbound(ns("DISABLE") + workload("mtls: { mode: STRICT }")))).toEqual(STRICT);
    expect(layout(inbound(ns("STRICT") + workload("mtls: { mode: UNSET }")))).toEqual(STRICT);
    expect(layout(inbound(ns("STRICT") + workload("portLevelMtls: { 9080: { mode: DISABLE } }")))).toEqual(DISABLE);
    expect(layout(inbound(ns("STRICT") + workload("portLevelMtls: { 9999: { mode: DISABLE } }")))).toEqual(STRICT);
    expect(
      layout(
        inbound(
          workload("mtls: { mode: DISABLE }", "newer", "2026-06-01T00:00:00Z") +
            workload("mtls: { mode: STRICT }", "older", "2026-01-01T00:00:00Z"),
        ),
      ),
    ).toEqual(STRICT);
    // A selector in the root namespace selects nothing; another namespace's policy does not apply.
    expect(
      layout(
        inbound(
          peerAuthentication(
            "istio-system",
            "sel",
            "{ selector: { matchLabels: { app: productpage } }, mtls: { mode: STRICT } }",
          ) + peerAuthentication("other", "ns", "{ mtls: { mode: STRICT } }"),
        ),
      ),
    ).toEqual(PERMISSIVE);
    expect(inbound(ns("DISABLE")).listenerFilters ?? []).toEqual([]);
  });

  it("virtualInbound: per-port chains with the destination port, TCP ports PERMISSIVE also pass plain TLS through", () => {
    const platform = loadConfig([
      read("test/fixtures/istio/bookinfo/platform/bookinfo.yaml"),
      {
        file: "tcp.yaml",
        text: `
apiVersion: v1
kind: Service
metadata: { name: db, namespace: default }
spec: { selector: { app: productpage }, ports: [{ name: tcp-db, port: 5432 }] }`,
      },
    ]);
    const mesh = buildMesh(platform);
    const out = generate(mesh, proxyOf(mesh, "default/productpage-v1"));
    const virtualInbound = out.Listener.find((l) => l.name === "virtualInbound") as Listener;
    expect(virtualInbound.listenerFilters?.map((f) => f.name)).toEqual([
      "envoy.filters.listener.original_dst",
      "envoy.filters.listener.tls_inspector",
    ]);
    const chains = (virtualInbound.filterChains ?? []).map((c) => [
      c.filterChainMatch?.destinationPort,
      c.filterChainMatch?.transportProtocol,
      c.filterChainMatch?.applicationProtocols?.length ?? 0,
      c.transportSocket ? downstream(c.transportSocket).commonTlsContext?.alpnProtocols?.join(",") : "",
    ]);
    expect(chains).toEqual([
      [5432, "tls", 5, "istio-peer-exchange,h2,http/1.1"],
      [5432, "raw_buffer", 0, ""],
      [5432, "tls", 0, ""],
      [9080, "tls", 5, "h2,http/1.1"],
      [9080, "raw_buffer", 0, ""],
    ]);
  });

  it("the simulator picks the mTLS chain for Istio's ALPN, the plaintext one otherwise, and none under STRICT", () => {
    const route = (extra: string, request: Record<string, unknown>) => {
      const r = simulate(productpage(extra), { address: "10.0.0.10", port: 9080, ...request });
      return r.filterChain?.index ?? r.action.kind;
    };
    const mtls = { tls: { alpn: ["istio-peer-exchange", "istio"] } };
    expect(route("", mtls)).toBe(0);
    expect(route("", {})).toBe(1);
    const strict = peerAuthentication("default", "ns", "{ mtls: { mode: STRICT } }");
    expect(route(strict, mtls)).toBe(0);
    expect(route(strict, {})).toBe("connection-closed");
  });

  it("incremental: a PeerAuthentication change regenerates the inbound listener of its namespace's proxies", () => {
    const translator = createTranslator({ objects: objects() });
    translator.connect("pp", "default/productpage-v1");
    const policy = loadConfig([
      {
        file: "pa.yaml",
        text: peerAuthentication(
          "default",
          "pp",
          "{ selector: { matchLabels: { app: productpage } }, mtls: { mode: STRICT } }",
        ),
      },
    ]).objects[0] as AnyConfigObject;
    const update = translator.apply([{ op: "add", object: policy }]);
    expect(update.proxies.get("pp")?.changes).toEqual({ Listener: { updated: ["10.0.0.10_9080"], removed: [] } });
    const listener = update.proxies.get("pp")?.resources.Listener.find((l) => l.name === "10.0.0.10_9080");
    expect(listener?.filterChains?.map((c) => c.filterChainMatch?.transportProtocol)).toEqual(["tls"]);
  });
});

describe("mesh mTLS: gateways", () => {
  it("an ISTIO_MUTUAL server terminates mesh mTLS with the gateway's default/ROOTCA and requires a client certificate", () => {
    const mesh = buildMesh(
      loadConfig(`
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: east-west, namespace: istio-system }
spec:
  selector: { istio: eastwestgateway }
  servers:
  - port: { number: 15443, name: https-mesh, protocol: HTTPS }
    hosts: ["*/web.example.com"]
    tls: { mode: ISTIO_MUTUAL, subjectAltNames: ["spiffe://cluster.local/ns/shop/sa/web-client"] }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: web, namespace: shop }
spec:
  hosts: [web.example.com]
  gateways: [istio-system/east-west]
  http: [{ route: [{ destination: { host: web } }] }]
---
apiVersion: v1
kind: Service
metadata: { name: web, namespace: shop }
spec: { ports: [{ name: http, port: 8080 }] }
`),
      { sdsConfig: "sds-grpc" },
    );
    const out = generate(
      mesh,
      proxyOf(mesh, {
        id: "router~10.0.0.98~ew-1.istio-system~istio-system.svc.cluster.local",
        metadata: { NAMESPACE: "istio-system", LABELS: { istio: "eastwestgateway" } },
      }),
    );
    const listener = out.Listener.find((l) => l.name === "0.0.0.0_15443");
    expect(listener?.filterChains?.map((c) => c.filterChainMatch?.serverNames)).toEqual([["web.example.com"]]);
    expect(out.RouteConfiguration.map((r) => r.name)).toEqual(["https.15443.https-mesh.east-west.istio-system"]);
    const tls = downstream(listener?.filterChains?.[0]?.transportSocket);
    expect(tls.requireClientCertificate).toBe(true);
    const common = tls.commonTlsContext;
    expect(common?.tlsCertificateSdsSecretConfigs?.map((s) => s.name)).toEqual(["default"]);
    expect(
      common?.tlsCertificateSdsSecretConfigs?.[0]?.sdsConfig?.apiConfigSource?.grpcServices?.[0]?.envoyGrpc
        ?.clusterName,
    ).toBe("sds-grpc");
    expect(common?.combinedValidationContext?.validationContextSdsSecretConfig?.name).toBe("ROOTCA");
    expect(
      common?.combinedValidationContext?.defaultValidationContext?.matchSubjectAltNames?.map((m) => m.exact),
    ).toEqual(["spiffe://cluster.local/ns/shop/sa/web-client"]);
  });
});
