import fs from "node:fs";
import path from "node:path";
import {
  type Any,
  type Cluster,
  DownstreamTlsContext,
  HttpProtocolOptions,
  UpstreamTlsContext,
  unpackAny,
} from "@xdskit/core";
import { CorsPerRoute, HTTPFault } from "@xdskit/core/extensions";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../config/loader.js";
import { buildMesh } from "../index/mesh.js";
import { simulate } from "../simulate/simulate.js";
import { TYPE } from "./envoy.js";
import { generate } from "./generate.js";
import { proxyOf } from "./proxy.js";
import { routeOrigin } from "./routes.js";

const repo = path.resolve(import.meta.dirname, "../../../..");
const read = (rel: string) => ({ file: rel, text: fs.readFileSync(path.join(repo, rel), "utf8") });
const bookinfo = (...rels: string[]) =>
  buildMesh(
    loadConfig([
      read("test/fixtures/istio/bookinfo/platform/bookinfo.yaml"),
      ...rels.map((r) => read(`test/fixtures/istio/bookinfo/networking/${r}`)),
    ]),
  );
const vms = (...rels: string[]) =>
  buildMesh(
    loadConfig([
      read("test/fixtures/no-kubernetes/bookinfo-vms.yaml"),
      ...rels.map((r) => read(`test/fixtures/istio/bookinfo/networking/${r}`)),
    ]),
  );
const REVIEWS = "reviews.default.svc.cluster.local";

function vhost(resources: ReturnType<typeof generate>, route: string, name: string) {
  const config = resources.RouteConfiguration.find((r) => r.name === route);
  return config?.virtualHosts?.find((v) => v.name === name);
}

describe("generate: sidecars", () => {
  it("names clusters like istiod, EDS service name = cluster name, endpoints filtered per subset server-side", () => {
    const mesh = vms("destination-rule-all.yaml");
    const out = generate(mesh, proxyOf(mesh, "default/productpage-v1"));
    const v2 = out.Cluster.find((c) => c.name === `outbound|9080|v2|${REVIEWS}`);
    expect(v2?.edsClusterConfig?.serviceName).toBe(`outbound|9080|v2|${REVIEWS}`);
    expect(v2?.lbPolicy).toBe(1); // LEAST_REQUEST, Istio's default
    expect(v2?.circuitBreakers?.thresholds?.[0]?.maxRequests).toBe(4294967295);
    const addresses = (name: string) =>
      out.ClusterLoadAssignment.find((c) => c.clusterName === name)?.endpoints?.flatMap((l) =>
        (l.lbEndpoints ?? []).map(
          (e) => `${e.endpoint?.address?.socketAddress?.address}:${e.endpoint?.address?.socketAddress?.portValue}`,
        ),
      );
    expect(addresses(`outbound|9080|v2|${REVIEWS}`)).toEqual(["10.0.0.22:19082"]);
    expect(addresses(`outbound|9080||${REVIEWS}`)).toHaveLength(3);
    for (const fixed of ["BlackHoleCluster", "PassthroughCluster", "InboundPassthroughCluster"])
      expect(out.Cluster.map((c) => c.name)).toContain(fixed);
  });

  it("routes jason to reviews v2 (header match first, catch-all last) with Istio's default retry policy", () => {
    const mesh = bookinfo("destination-rule-all.yaml", "virtual-service-reviews-test-v2.yaml");
    const out = generate(mesh, proxyOf(mesh, "default/productpage-v1"));
    const vh = vhost(out, "9080", `${REVIEWS}:9080`);
    expect(vh?.domains).toEqual([REVIEWS, `${REVIEWS}.`, "reviews", "reviews.default.svc", "reviews.default"]);
    const [jason, rest] = vh?.routes ?? [];
    expect(jason?.match?.headers).toEqual([{ name: "end-user", stringMatch: { exact: "jason" } }]);
    expect(jason?.route?.cluster).toBe(`outbound|9080|v2|${REVIEWS}`);
    expect(rest?.match?.prefix).toBe("/");
    expect(rest?.route?.cluster).toBe(`outbound|9080|v1|${REVIEWS}`);
    expect(rest?.route?.retryPolicy).toMatchObject({
      retryOn: "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes",
      numRetries: 2,
      retriableStatusCodes: [503],
      hostSelectionRetryMaxAttempts: 5,
    });
    expect(rest?.route?.retryPolicy?.retryHostPredicate?.[0]?.name).toBe("envoy.retry_host_predicates.previous_hosts");
    expect(rest?.route?.timeout).toEqual({ seconds: 0, nanos: 0 });
    const last = out.RouteConfiguration.find((r) => r.name === "9080")?.virtualHosts?.at(-1);
    expect(last).toMatchObject({ name: "allow_any", domains: ["*"] });
    expect(last?.routes?.[0]?.route?.cluster).toBe("PassthroughCluster");
  });

  it("splits 80/20, and injects the 7 s delay and the HTTP 500 abort for jason as per-route fault config", () => {
    const mesh = bookinfo(
      "destination-rule-all.yaml",
      "virtual-service-reviews-80-20.yaml",
      "virtual-service-ratings-test-delay.yaml",
    );
    const out = generate(mesh, proxyOf(mesh, "default/productpage-v1"));
    const weighted = vhost(out, "9080", `${REVIEWS}:9080`)?.routes?.[0]?.route?.weightedClusters?.clusters;
    expect(weighted?.map((c) => [c.name, c.weight])).toEqual([
      [`outbound|9080|v1|${REVIEWS}`, 80],
      [`outbound|9080|v2|${REVIEWS}`, 20],
    ]);
    const delayRoute = vhost(out, "9080", "ratings.default.svc.cluster.local:9080")?.routes?.[0];
    const delay = unpackAny(
      delayRoute?.typedPerFilterConfig?.["envoy.filters.http.fault"] as Any,
      TYPE.fault,
      HTTPFault,
    );
    expect(delay.delay?.fixedDelay).toEqual({ seconds: 7, nanos: 0 });
    expect(delay.delay?.percentage).toEqual({ numerator: 100 * 10000, denominator: 2 });

    const abortMesh = bookinfo("destination-rule-all.yaml", "virtual-service-ratings-test-abort.yaml");
    const abortOut = generate(abortMesh, proxyOf(abortMesh, "default/reviews-v2"));
    const abortRoute = vhost(abortOut, "9080", "ratings.default.svc.cluster.local:9080")?.routes?.[0];
    const abort = unpackAny(
      abortRoute?.typedPerFilterConfig?.["envoy.filters.http.fault"] as Any,
      TYPE.fault,
      HTTPFault,
    );
    expect(abort.abort?.httpStatus).toBe(500);
    expect(abortRoute?.match?.headers?.[0]?.name).toBe("end-user");
  });

  it("translates every HTTP route feature: redirect, rewrites, direct response, headers, timeout, retries, mirrors, CORS, delegates", () => {
    const text = `
apiVersion: v1
kind: Service
metadata: { name: web, namespace: shop }
spec: { ports: [{ name: http, port: 80 }] }
---
apiVersion: v1
kind: Service
metadata: { name: shadow, namespace: shop }
spec: { ports: [{ name: http, port: 80 }] }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: web, namespace: shop }
spec:
  hosts: [web]
  http:
  - name: old
    match: [{ uri: { prefix: /old }, name: m }]
    redirect: { uri: /new, authority: example.com, redirectCode: 302 }
  - match: [{ uri: { regex: "/v[0-9]+/.*" }, ignoreUriCase: true, method: { exact: POST }, queryParams: { debug: {} } }]
    rewrite: { uriRegexRewrite: { match: "^/v[0-9]+/(.*)", rewrite: "/\\\\1" }, authority: backend }
    route: [{ destination: { host: web } }]
    timeout: 3s
    retries: { attempts: 4, perTryTimeout: 1s, retryOn: "5xx,429" }
    mirror: { host: shadow }
    mirrorPercentage: { value: 25 }
    headers: { request: { set: { x-a: "1" }, remove: [x-b] } }
    corsPolicy: { allowOrigins: [{ exact: "https://a.example" }], allowMethods: [GET, POST], maxAge: 86400s }
  - match: [{ withoutHeaders: { x-internal: { exact: "yes" } } }]
    directResponse: { status: 403, body: { string: denied } }
  - match: [{ uri: { prefix: /api } }]
    delegate: { name: api, namespace: shop }
  - route: [{ destination: { host: web } }]
    retries: { attempts: 0 }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: api, namespace: shop }
spec:
  http:
  - match: [{ uri: { prefix: /api/v2 } }]
    route: [{ destination: { host: shadow } }]
---
apiVersion: v1
kind: Pod
metadata: { name: client, namespace: shop, labels: { app: client } }
spec: {}
status: { podIP: 10.1.1.1 }
`;
    const loaded = loadConfig(text);
    expect(loaded.diagnostics).toEqual([]);
    const mesh = buildMesh(loaded);
    const out = generate(mesh, proxyOf(mesh, "shop/client"));
    const routes = vhost(out, "80", "web.shop.svc.cluster.local:80")?.routes ?? [];
    expect(routes.map((r) => r.name)).toEqual(["old.m", "", "", "", ""]);
    expect(routes[0]?.redirect).toEqual({ responseCode: 1, hostRedirect: "example.com", pathRedirect: "/new" });
    const rewrite = routes[1];
    expect(rewrite?.match).toMatchObject({
      safeRegex: { regex: "/v[0-9]+/.*" },
      caseSensitive: false,
      headers: [{ name: ":method", stringMatch: { exact: "POST" } }],
      queryParameters: [{ name: "debug", presentMatch: true }],
    });
    expect(rewrite?.route).toMatchObject({
      cluster: "outbound|80||web.shop.svc.cluster.local",
      regexRewrite: { pattern: { regex: "^/v[0-9]+/(.*)" }, substitution: "/\\1" },
      hostRewriteLiteral: "backend",
      timeout: { seconds: 3, nanos: 0 },
      retryPolicy: {
        numRetries: 4,
        retryOn: "5xx,retriable-status-codes",
        retriableStatusCodes: [429],
        perTryTimeout: { seconds: 1, nanos: 0 },
      },
      requestMirrorPolicies: [
        {
          cluster: "outbound|80||shadow.shop.svc.cluster.local",
          runtimeFraction: { defaultValue: { numerator: 250000, denominator: 2 } },
        },
      ],
    });
    expect(rewrite?.requestHeadersToAdd).toEqual([{ header: { key: "x-a", value: "1" }, appendAction: 2 }]);
    expect(rewrite?.requestHeadersToRemove).toEqual(["x-b"]);
    const cors = unpackAny(
      rewrite?.typedPerFilterConfig?.["envoy.filters.http.cors"] as Any,
      TYPE.corsPolicy,
      CorsPerRoute,
    );
    expect(cors).toMatchObject({
      allowOriginStringMatch: [{ exact: "https://a.example" }],
      allowMethods: "GET,POST",
      maxAge: "86400",
    });
    expect(routes[2]?.match?.headers).toEqual([
      { name: "x-internal", stringMatch: { exact: "yes" }, invertMatch: true, treatMissingHeaderAsEmpty: true },
    ]);
    expect(routes[2]?.directResponse).toEqual({ status: 403, body: { inlineString: "denied" } });
    expect(routes[3]?.match?.prefix).toBe("/api/v2");
    expect(routes[3]?.route?.cluster).toBe("outbound|80||shadow.shop.svc.cluster.local");
    expect(routes[4]?.route?.retryPolicy).toBeUndefined();
    // Each route knows its VirtualService HTTP route; a delegated one also its delegate's.
    expect(routeOrigin(routes[1] as object)).toMatchObject({ virtualService: { name: "web" }, httpIndex: 1 });
    expect(routeOrigin(routes[1] as object)?.http.retries?.attempts).toBe(4);
    const delegated = routeOrigin(routes[3] as object);
    expect(delegated).toMatchObject({
      virtualService: { namespace: "shop", name: "web" },
      httpIndex: 3,
      delegate: { name: "api", namespace: "shop", virtualService: { namespace: "shop", name: "api" }, httpIndex: 0 },
    });
    expect(delegated?.http.route?.map((r) => r.destination?.host)).toEqual(["shadow"]);
    expect(delegated?.http.match).toEqual([expect.objectContaining({ uri: { prefix: "/api/v2" } })]);
    expect(delegated?.http).not.toHaveProperty("origin");
  });

  it("merges delegate matches as istiod does: a delegate may only narrow its root's match", () => {
    const text = `
apiVersion: v1
kind: Service
metadata: { name: web, namespace: shop }
spec: { ports: [{ name: http, port: 80 }] }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: web, namespace: shop }
spec:
  hosts: [web]
  http:
  - { name: re, match: [{ uri: { regex: "/re(/.*)?" } }], delegate: { name: child } }
  - { name: ex, match: [{ uri: { exact: /ex } }], delegate: { name: child } }
  - { name: pre, match: [{ uri: { prefix: /pre } }, { method: { exact: GET } }], delegate: { name: child } }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: child, namespace: shop }
spec:
  http:
  - { name: a, match: [{ uri: { prefix: /pre/a } }], route: [{ destination: { host: web } }] }
  - { name: b, match: [{ uri: { exact: /ex } }], route: [{ destination: { host: web } }] }
  - { name: c, match: [{ uri: { regex: "/pre/c.*" } }], route: [{ destination: { host: web } }] }
  - { name: d, match: [{ method: { exact: POST } }], route: [{ destination: { host: web } }] }
  - { name: e, match: [{ uri: { prefix: /pre/e } }, { uri: { exact: /ex } }], route: [{ destination: { host: web } }] }
  - name: f
    match: [{ name: x, uri: { prefix: /pre/f } }, { uri: { prefix: /pre/g } }]
    route: [{ destination: { host: web } }]
---
apiVersion: v1
kind: Pod
metadata: { name: client, namespace: shop }
spec: {}
status: { podIP: 10.1.1.1 }
`;
    const mesh = buildMesh(loadConfig(text));
    const routes = vhost(generate(mesh, proxyOf(mesh, "shop/client")), "80", "web.shop.svc.cluster.local:80")?.routes;
    // re: a regex root conflicts with every delegate uri match, so only d (no uri) merges; ex: only the same
    // exact (b) and d, and not e: its /pre/e conflicts with every root match, which drops the whole route;
    // pre's prefix takes a (inside /pre) and d, and pre's GET match takes every child but d, whose POST
    // conflicts with it. Delegate matches come first (f: /pre/f with both root matches, then /pre/g); names
    // are joined `root-child`.
    expect(
      routes?.map((r) => `${r.name} ${JSON.stringify(r.match?.safeRegex?.regex ?? r.match?.path ?? r.match?.prefix)}`),
    ).toEqual([
      're-d "/re(/.*)?"',
      'ex-b "/ex"',
      'ex-d "/ex"',
      'pre-a "/pre/a"',
      'pre-a "/pre/a"',
      'pre-b "/ex"',
      'pre-c "/pre/c.*"',
      'pre-d "/pre"',
      'pre-e "/pre/e"',
      'pre-e "/pre/e"',
      'pre-e "/ex"',
      'pre-f.x "/pre/f"',
      'pre-f.x "/pre/f"',
      'pre-f "/pre/g"',
      'pre-f "/pre/g"',
    ]);
    expect(routes?.[4]?.match?.headers).toEqual([{ name: ":method", stringMatch: { exact: "GET" } }]);
  });

  it("turns DestinationRule policies into cluster settings: LB, hash, pool, outlier, TLS, port-level and subset overrides", () => {
    const text = `
apiVersion: v1
kind: Service
metadata: { name: db, namespace: shop }
spec: { ports: [{ name: http, port: 80 }, { name: tcp-admin, port: 9000 }] }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: db, namespace: shop }
spec:
  host: db
  trafficPolicy:
    loadBalancer: { consistentHash: { httpHeaderName: x-user } }
    connectionPool: { tcp: { maxConnections: 10, connectTimeout: 2s }, http: { http2MaxRequests: 50, maxRequestsPerConnection: 3 } }
    outlierDetection: { consecutive5xxErrors: 7, interval: 5s, baseEjectionTime: 30s, maxEjectionPercent: 50 }
    tls: { mode: SIMPLE, sni: db.example, caCertificates: /etc/ca.pem }
    portLevelSettings:
    - port: { number: 9000 }
      loadBalancer: { simple: ROUND_ROBIN }
      tls: { mode: DISABLE }
  subsets:
  - name: fast
    labels: { tier: fast }
    trafficPolicy: { loadBalancer: { simple: RANDOM }, tls: { mode: MUTUAL, credentialName: db-client } }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: db, namespace: shop }
spec: { hosts: [db], http: [{ route: [{ destination: { host: db, port: { number: 80 } } }] }] }
---
apiVersion: v1
kind: Pod
metadata: { name: client, namespace: shop }
spec: {}
status: { podIP: 10.1.1.1 }
`;
    const mesh = buildMesh(loadConfig(text));
    const out = generate(mesh, proxyOf(mesh, "shop/client"));
    const cluster = (name: string) => out.Cluster.find((c) => c.name === name) as Cluster;
    const main = cluster("outbound|80||db.shop.svc.cluster.local");
    expect(main.lbPolicy).toBe(2); // RING_HASH
    expect(main.ringHashLbConfig?.minimumRingSize).toBe(1024);
    expect(main.connectTimeout).toEqual({ seconds: 2, nanos: 0 });
    expect(main.circuitBreakers?.thresholds?.[0]).toMatchObject({ maxConnections: 10, maxRequests: 50 });
    expect(main.outlierDetection).toMatchObject({
      consecutive5xx: 7,
      enforcingConsecutive5xx: 100,
      maxEjectionPercent: 50,
    });
    const tls = unpackAny(main.transportSocket?.typedConfig as Any, TYPE.upstreamTls, UpstreamTlsContext);
    expect(tls.sni).toBe("db.example");
    expect(tls.commonTlsContext?.validationContext?.trustedCa?.filename).toBe("/etc/ca.pem");
    const admin = cluster("outbound|9000||db.shop.svc.cluster.local");
    expect(admin.lbPolicy).toBe(0); // ROUND_ROBIN from the port-level settings
    expect(admin.transportSocket).toBeUndefined();
    const fast = cluster("outbound|80|fast|db.shop.svc.cluster.local");
    expect(fast.lbPolicy).toBe(3); // RANDOM from the subset
    const mtls = unpackAny(fast.transportSocket?.typedConfig as Any, TYPE.upstreamTls, UpstreamTlsContext);
    expect(mtls.commonTlsContext?.tlsCertificateSdsSecretConfigs?.[0]?.name).toBe("kubernetes://db-client");
    const route = vhost(out, "80", "db.shop.svc.cluster.local:80")?.routes?.[0];
    expect(route?.route?.hashPolicy).toEqual([{ header: { headerName: "x-user" } }]);
    expect(route?.route?.retryPolicy?.retryHostPredicate).toBeUndefined(); // consistent hash keeps its host
    expect(out.Listener.find((l) => l.name === "0.0.0.0_9000")).toBeDefined();
  });

  it("originates TLS as istiod: no rule SNI means auto_sni (+ auto_san_validation), system roots, ServiceEntry SANs", () => {
    const text = `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: api, namespace: shop }
spec:
  hosts: [api.example.com]
  ports: [{ number: 80, name: http, protocol: HTTP }, { number: 8443, name: tls, protocol: TLS }]
  location: MESH_EXTERNAL
  resolution: DNS
  subjectAltNames: [spiffe://example.com/api]
  endpoints: [{ address: api.example.com, labels: { version: v1 } }]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: api, namespace: shop }
spec:
  host: api.example.com
  trafficPolicy: { tls: { mode: SIMPLE } }
  subsets:
  - { name: v1, labels: { version: v1 }, trafficPolicy: { tls: { mode: SIMPLE, insecureSkipVerify: true } } }
  - { name: v2, labels: { version: v2 } }
---
apiVersion: v1
kind: Pod
metadata: { name: client, namespace: shop }
spec: {}
status: { podIP: 10.1.1.1 }
`;
    const mesh = buildMesh(loadConfig(text));
    const out = generate(mesh, proxyOf(mesh, "shop/client"));
    const cluster = (name: string) => out.Cluster.find((c) => c.name === name);
    const main = cluster("outbound|80||api.example.com");
    const tls = unpackAny(main?.transportSocket?.typedConfig as Any, TYPE.upstreamTls, UpstreamTlsContext);
    expect(tls.sni).toBe("");
    expect(tls.commonTlsContext?.validationContext).toMatchObject({
      trustedCa: { filename: "/etc/ssl/certs/ca-certificates.crt" },
      matchSubjectAltNames: [{ exact: "spiffe://example.com/api" }],
    });
    const options = unpackAny(
      main?.typedExtensionProtocolOptions?.[TYPE.httpProtocolOptions] as Any,
      TYPE.httpProtocolOptions,
      HttpProtocolOptions,
    );
    expect(options.upstreamHttpProtocolOptions).toMatchObject({ autoSni: true, autoSanValidation: true });
    expect(options.explicitHttpConfig?.httpProtocolOptions).toBeDefined();
    // insecureSkipVerify: no validation at all, and no SAN validation against the SNI.
    const v1 = cluster("outbound|80|v1|api.example.com");
    const insecure = unpackAny(v1?.transportSocket?.typedConfig as Any, TYPE.upstreamTls, UpstreamTlsContext);
    expect(insecure.commonTlsContext?.validationContext).toBeUndefined();
    const v1Options = unpackAny(
      v1?.typedExtensionProtocolOptions?.[TYPE.httpProtocolOptions] as Any,
      TYPE.httpProtocolOptions,
      HttpProtocolOptions,
    );
    expect(v1Options.upstreamHttpProtocolOptions?.autoSanValidation).toBeFalsy();
    // A TLS port is not HTTP: no auto_sni there. A DNS subset without endpoints gets no cluster (as istiod).
    expect(cluster("outbound|8443||api.example.com")?.typedExtensionProtocolOptions).toBeUndefined();
    expect(cluster("outbound|80|v2|api.example.com")).toBeUndefined();
  });

  it("runs without iptables: captureMode NONE binds 127.0.0.1:9080 (egress) and the workload's address (ingress), REGISTRY_ONLY blocks the rest", () => {
    const mesh = vms("destination-rule-all.yaml");
    const out = generate(mesh, proxyOf(mesh, "default/productpage-v1"));
    expect(out.Listener.map((l) => l.name)).toEqual(["10.0.0.10_9080", "127.0.0.1_9080"]);
    expect(out.Listener.every((l) => l.bindToPort === undefined)).toBe(true);
    expect(
      out.Cluster.find((c) => c.name === "inbound|9080||")?.loadAssignment?.endpoints?.[0]?.lbEndpoints?.[0]?.endpoint
        ?.address,
    ).toEqual({
      socketAddress: { address: "127.0.0.1", portValue: 19080 },
    });
    expect(out.RouteConfiguration.find((r) => r.name === "9080")?.virtualHosts?.at(-1)?.name).toBe("block_all");
  });

  it("names routes <http.name>.<match.name> even without an HTTP route name, and ports destinations as istiod does", () => {
    // Found by the differential test against istiod (test/istiod-oracle).
    const mesh = buildMesh(
      loadConfig(`
apiVersion: v1
kind: Service
metadata: { name: web, namespace: default }
spec: { clusterIP: 10.96.0.1, selector: { app: web }, ports: [{ name: http, port: 80 }] }
---
apiVersion: v1
kind: Service
metadata: { name: details, namespace: default }
spec: { clusterIP: 10.96.0.2, selector: { app: details }, ports: [{ name: http, port: 9080 }] }
---
apiVersion: v1
kind: Pod
metadata: { name: sleep, namespace: default, labels: { app: sleep } }
spec: { containers: [{ name: app, image: app }] }
status: { podIP: 10.1.0.5 }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: web, namespace: default }
spec:
  hosts: [web]
  http:
  - match: [{ name: m0, uri: { prefix: /a } }]
    route: [{ destination: { host: details } }]
  - route: [{ destination: { host: web } }]
`),
    );
    const out = generate(mesh, proxyOf(mesh, "default/sleep"));
    const routes = vhost(out, "80", "web.default.svc.cluster.local:80")?.routes ?? [];
    expect(routes.map((r) => r.name)).toEqual([".m0", ""]);
    // details is not on port 80: istiod does not look it up on this listener and uses the listener's port.
    expect(routes[0]?.route?.cluster).toBe("outbound|80||details.default.svc.cluster.local");
    expect(routes[1]?.route?.cluster).toBe("outbound|80||web.default.svc.cluster.local");
  });

  it("sends what no other listener takes through virtualOutbound's catch-all chain, as istiod names it", () => {
    const mesh = bookinfo();
    const out = generate(mesh, proxyOf(mesh, "default/productpage-v1"));
    const outbound = out.Listener.find((l) => l.name === "virtualOutbound");
    expect(outbound?.defaultFilterChain).toBeUndefined();
    expect(outbound?.filterChains?.map((c) => [c.name, c.filterChainMatch?.destinationPort])).toEqual([
      ["virtualOutbound-blackhole", 15001],
      ["virtualOutbound-catchall-tcp", undefined],
    ]);
    const result = simulate(out, { listener: "virtualOutbound", address: "10.9.9.9", port: 5000 });
    expect(result.action).toMatchObject({ kind: "tcp-proxy", cluster: "PassthroughCluster" });
  });

  it("gives proxies with the same view the same objects, and different views different ones", () => {
    const mesh = bookinfo("destination-rule-all.yaml", "virtual-service-all-v1.yaml");
    const v1 = generate(mesh, proxyOf(mesh, "default/reviews-v1"));
    const v2 = generate(mesh, proxyOf(mesh, "default/reviews-v2"));
    expect(v2).toBe(v1);
    const productpage = generate(mesh, proxyOf(mesh, "default/productpage-v1"));
    expect(productpage.RouteConfiguration[0]).toBe(v1.RouteConfiguration[0]);
    expect(productpage.Cluster.find((c) => c.name?.includes("|v2|reviews"))).toBe(
      v1.Cluster.find((c) => c.name?.includes("|v2|reviews")),
    );
  });

  it("identifies proxies by Istio's node id and metadata, and says which workloads are unknown", () => {
    const mesh = bookinfo();
    const proxy = proxyOf(mesh, {
      id: "sidecar~10.1.2.3~reviews-v2-5f9c.default~default.svc.cluster.local",
      metadata: { LABELS: { app: "reviews", version: "v2" }, SERVICE_ACCOUNT: "bookinfo-reviews" },
    });
    expect(proxy).toMatchObject({
      type: "sidecar",
      namespace: "default",
      addresses: ["10.1.2.3"],
      serviceAccount: "bookinfo-reviews",
    });
    expect(() => proxyOf(mesh, "default/nope")).toThrow(/no Pod, Deployment or WorkloadEntry default\/nope/);
    expect(() => proxyOf(mesh, { id: "x" })).toThrow(/NAMESPACE/);
  });
});

describe("generate: gateways and proxyless gRPC", () => {
  const gatewayYaml = `
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: gw, namespace: istio-system }
spec:
  selector: { istio: ingressgateway }
  servers:
  - port: { number: 80, name: http, protocol: HTTP }
    hosts: ["*.example.com"]
    tls: { httpsRedirect: true }
  - port: { number: 443, name: https, protocol: HTTPS }
    hosts: ["shop/web.example.com"]
    tls: { mode: SIMPLE, credentialName: web-cert }
  - port: { number: 443, name: https-mtls, protocol: HTTPS }
    hosts: ["*/api.example.com"]
    tls: { mode: MUTUAL, credentialName: api-cert }
  - port: { number: 8443, name: tls, protocol: TLS }
    hosts: ["*/db.example.com"]
    tls: { mode: PASSTHROUGH }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: web, namespace: shop }
spec:
  hosts: [web.example.com]
  gateways: [istio-system/gw]
  http: [{ route: [{ destination: { host: web } }] }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: db, namespace: shop }
spec:
  hosts: [db.example.com]
  gateways: [istio-system/gw]
  tls: [{ match: [{ sniHosts: [db.example.com], port: 8443 }], route: [{ destination: { host: db, port: { number: 5432 } } }] }]
---
apiVersion: v1
kind: Service
metadata: { name: web, namespace: shop }
spec: { ports: [{ name: http, port: 8080 }] }
`;
  const node = {
    id: "router~10.0.0.99~ingress-1.istio-system~istio-system.svc.cluster.local",
    metadata: { NAMESPACE: "istio-system", LABELS: { istio: "ingressgateway" } },
  };

  it("builds HTTP, HTTPS SIMPLE/MUTUAL with SDS credentials, PASSTHROUGH and httpsRedirect", () => {
    const mesh = buildMesh(loadConfig(gatewayYaml));
    const out = generate(mesh, proxyOf(mesh, node));
    expect(out.Listener.map((l) => l.name)).toEqual(["0.0.0.0_80", "0.0.0.0_443", "0.0.0.0_8443"]);
    expect(out.RouteConfiguration.map((r) => r.name)).toEqual([
      "http.80",
      "https.443.https-mtls.gw.istio-system",
      "https.443.https.gw.istio-system",
    ]);
    const http80 = out.RouteConfiguration.find((r) => r.name === "http.80");
    expect(http80?.virtualHosts?.map((v) => [v.name, v.requireTls])).toEqual([
      ["*.example.com:80", 2],
      ["web.example.com:80", 2],
    ]);
    const https = out.Listener.find((l) => l.name === "0.0.0.0_443");
    expect(https?.filterChains?.map((c) => c.filterChainMatch?.serverNames)).toEqual([
      ["web.example.com"],
      ["api.example.com"],
    ]);
    const mtls = unpackAny(
      https?.filterChains?.[1]?.transportSocket?.typedConfig as Any,
      TYPE.downstreamTls,
      DownstreamTlsContext,
    );
    expect(mtls.commonTlsContext?.tlsCertificateSdsSecretConfigs?.[0]?.name).toBe("kubernetes://api-cert");
    expect(mtls.commonTlsContext?.combinedValidationContext?.validationContextSdsSecretConfig?.name).toBe(
      "kubernetes://api-cert-cacert",
    );
    const mtlsRoutes = out.RouteConfiguration.find((r) => r.name === "https.443.https-mtls.gw.istio-system");
    expect(mtlsRoutes?.virtualHosts?.[0]?.name).toBe("blackhole:443");
    const passthrough = out.Listener.find((l) => l.name === "0.0.0.0_8443");
    expect(passthrough?.listenerFilters?.[0]?.name).toBe("envoy.filters.listener.tls_inspector");
    expect(passthrough?.filterChains?.[0]?.filterChainMatch?.serverNames).toEqual(["db.example.com"]);
  });

  it("gives gateways BlackHoleCluster but not the sidecar passthrough clusters", () => {
    const mesh = buildMesh(loadConfig(gatewayYaml));
    const names = generate(mesh, proxyOf(mesh, node)).Cluster.map((c) => c.name);
    expect(names).toContain("BlackHoleCluster");
    expect(names).not.toContain("PassthroughCluster");
    expect(names).not.toContain("InboundPassthroughCluster");
  });

  it("answers proxyless gRPC clients with host:port api_listeners over RDS outbound|port||host", () => {
    const mesh = bookinfo("destination-rule-all.yaml", "virtual-service-reviews-jason-v2-v3.yaml");
    const out = generate(
      mesh,
      proxyOf(mesh, {
        id: "sidecar~10.0.0.7~c.default~default.svc.cluster.local",
        metadata: { GENERATOR: "grpc", NAMESPACE: "default" },
      }),
    );
    expect(out.Listener.map((l) => l.name)).toContain("reviews:9080");
    expect(out.Listener.map((l) => l.name)).toContain(`${REVIEWS}:9080`);
    expect(out.Listener.find((l) => l.name === "reviews:9080")?.apiListener?.apiListener?.typeUrl).toBe(
      `type.googleapis.com/${TYPE.hcm}`,
    );
    const rc = out.RouteConfiguration.find((r) => r.name === `outbound|9080||${REVIEWS}`);
    expect(rc?.virtualHosts?.[0]?.domains).toContain("reviews:9080");
    expect(rc?.virtualHosts?.[0]?.routes?.[0]?.route?.cluster).toBe(`outbound|9080|v2|${REVIEWS}`);
    expect(out.Cluster.every((c) => c.lbPolicy !== 1)).toBe(true);
  });
});

describe("generate: every fixture translates", () => {
  const dirs = ["test/fixtures/istio/bookinfo/networking", "test/fixtures/istio/testdata-config"];
  const files = dirs.flatMap((d) => fs.readdirSync(path.join(repo, d)).map((f) => `${d}/${f}`));
  it.each(files)("%s", (file) => {
    const loaded = loadConfig([read("test/fixtures/istio/bookinfo/platform/bookinfo.yaml"), read(file)]);
    const mesh = buildMesh(loaded);
    const out = generate(mesh, proxyOf(mesh, "default/productpage-v1"));
    expect(out.RouteConfiguration.length + out.Listener.length).toBeGreaterThan(0);
    const gw = generate(
      mesh,
      proxyOf(mesh, {
        id: "router~1.1.1.1~gw.istio-system~x",
        metadata: { NAMESPACE: "istio-system", LABELS: { istio: "ingressgateway" } },
      }),
    );
    expect(gw.Cluster.length).toBeGreaterThan(0);
  });
});
