// The inputs of the differential test against istiod (istiod-oracle.test.ts): seeded random Istio
// configurations over a small platform (a few Services and Pods in two namespaces and an ingress gateway
// Pod), the Bookinfo samples, and hand-written scenarios for delegates, ServiceEntries, tcp routes and mTLS,
// each with a proxy and requests to route. The same objects go to istiod
// (recorded by `npm run record:istiod`) and to xdskit; a case's hash ties a recorded answer to its input.
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { createRandom, type Random } from "../e2e/simulator-differential-cases.js";

export interface OracleProxy {
  type: "sidecar" | "router";
  namespace: string;
  /** The Pod's name: xdskit identifies the workload by it. */
  name: string;
  ip: string;
  labels: Record<string, string>;
}

export interface OracleRequest {
  /** Destination of the connection (a service VIP for sidecars, the gateway Pod for routers). */
  address: string;
  port: number;
  host: string;
  /** :path with the query. */
  path: string;
  method: string;
  headers: Record<string, string>;
  /** A TLS connection the proxy does not terminate (its SNI) instead of plaintext HTTP. */
  tls?: { sni: string };
}

export interface OracleScenario {
  name: string;
  /** Kubernetes objects (Services, Pods, Deployments) as YAML. */
  kubernetes: string;
  /** networking.istio.io objects as YAML. */
  istio: string;
  proxy: OracleProxy;
  requests: OracleRequest[];
}

/** The hash a recorded answer carries: any change to a scenario's input makes its answer stale. */
export function scenarioHash(scenario: OracleScenario): string {
  return createHash("sha256").update(JSON.stringify(scenario)).digest("hex").slice(0, 16);
}

const yaml = (objects: readonly object[]) => objects.map((o) => JSON.stringify(o)).join("\n---\n");

interface PlatformService {
  namespace: string;
  name: string;
  vip: string;
  ports: { port: number; name: string; targetPort: number }[];
}

const SERVICES: PlatformService[] = [
  { namespace: "default", name: "reviews", vip: "10.96.0.10", ports: [{ port: 9080, name: "http", targetPort: 9080 }] },
  { namespace: "default", name: "ratings", vip: "10.96.0.11", ports: [{ port: 9080, name: "http", targetPort: 9080 }] },
  { namespace: "default", name: "details", vip: "10.96.0.12", ports: [{ port: 9080, name: "http", targetPort: 9080 }] },
  {
    namespace: "default",
    name: "productpage",
    vip: "10.96.0.13",
    ports: [{ port: 9080, name: "http", targetPort: 9080 }],
  },
  { namespace: "shop", name: "web", vip: "10.96.1.10", ports: [{ port: 80, name: "http", targetPort: 8080 }] },
  {
    namespace: "shop",
    name: "api",
    vip: "10.96.1.11",
    ports: [
      { port: 8000, name: "http-api", targetPort: 8000 },
      { port: 9000, name: "tcp-admin", targetPort: 9000 },
    ],
  },
];

const PODS: OracleProxy[] = [
  { type: "sidecar", namespace: "default", name: "sleep-1", ip: "10.1.0.5", labels: { app: "sleep" } },
  {
    type: "sidecar",
    namespace: "default",
    name: "productpage-v1-1",
    ip: "10.1.0.6",
    labels: { app: "productpage", version: "v1" },
  },
  { type: "sidecar", namespace: "shop", name: "web-v1-1", ip: "10.1.1.5", labels: { app: "web", version: "v1" } },
  {
    type: "router",
    namespace: "istio-system",
    name: "istio-ingressgateway-1",
    ip: "10.1.2.5",
    labels: { istio: "ingressgateway", app: "istio-ingressgateway" },
  },
];

function podObject(p: OracleProxy, ports: number[]) {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: p.name, namespace: p.namespace, labels: p.labels },
    spec: { containers: [{ name: "app", image: "app", ports: ports.map((containerPort) => ({ containerPort })) }] },
    status: { podIP: p.ip, phase: "Running" },
  };
}

const PLATFORM = yaml([
  ...SERVICES.map((s) => ({
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: s.name, namespace: s.namespace, labels: { app: s.name } },
    spec: {
      clusterIP: s.vip,
      selector: { app: s.name },
      ports: s.ports.map((p) => ({ port: p.port, name: p.name, targetPort: p.targetPort, protocol: "TCP" })),
    },
  })),
  podObject(PODS[0] as OracleProxy, []),
  podObject(PODS[1] as OracleProxy, [9080]),
  podObject(PODS[2] as OracleProxy, [8080]),
  podObject(PODS[3] as OracleProxy, [8080, 8443]),
]);

const fqdn = (s: PlatformService) => `${s.name}.${s.namespace}.svc.cluster.local`;
const SUBSETS = ["v1", "v2", "v3"];
const PATHS = ["/", "/api", "/api/v1/items", "/reviews/1", "/static/app.js", "/login", "/Api/v1", "/health?full=1"];
const PREFIXES = ["/", "/api", "/api/v1", "/reviews", "/static/", "/Api"];
const EXACTS = ["/login", "/api", "/health", "/reviews/1"];
const REGEXES = ["/api/v[0-9]+/.*", "/reviews/[0-9]+", "/(static|assets)/.*"];
const USERS = ["jason", "mary", "admin"];
const GATEWAY_HOSTS = ["shop.example.com", "api.example.com", "www.example.org"];

/** A host as a VirtualService in `namespace` may write it for service `s`. */
function hostFor(r: Random, s: PlatformService, namespace: string): string {
  if (s.namespace === namespace && r.chance(0.5)) return s.name;
  return r.chance(0.3) ? `${s.name}.${s.namespace}` : fqdn(s);
}

function stringMatch(r: Random, values: readonly string[]) {
  const v = r.pick(values);
  switch (r.int(3)) {
    case 0:
      return { exact: v };
    case 1:
      return { prefix: v.slice(0, 2) };
    default:
      return { regex: `${v.slice(0, 2)}.*` };
  }
}

function httpMatch(r: Random, name?: string) {
  const m: Record<string, unknown> = {};
  if (name) m.name = name;
  const uri = r.int(4);
  if (uri === 0) m.uri = { prefix: r.pick(PREFIXES) };
  else if (uri === 1) m.uri = { exact: r.pick(EXACTS) };
  else if (uri === 2) m.uri = { regex: r.pick(REGEXES) };
  if (m.uri && r.chance(0.15)) m.ignoreUriCase = true;
  if (r.chance(0.35)) m.headers = { "end-user": stringMatch(r, USERS) };
  if (r.chance(0.1)) m.withoutHeaders = { "x-canary": { exact: "1" } };
  if (r.chance(0.15)) m.queryParams = { v: r.chance(0.5) ? { exact: "2" } : { regex: "[0-9]+" } };
  if (r.chance(0.15)) m.method = { exact: r.pick(["GET", "POST"]) };
  return m;
}

function destination(r: Random, target: PlatformService, namespace: string, withSubset: boolean) {
  const d: Record<string, unknown> = { host: hostFor(r, target, namespace) };
  if (withSubset) d.subset = r.pick(SUBSETS);
  if (target.ports.length > 1 || r.chance(0.2)) d.port = { number: (target.ports[0] as { port: number }).port };
  return d;
}

function httpRoute(r: Random, index: number, namespace: string, defaultTarget: PlatformService) {
  const route: Record<string, unknown> = {};
  if (r.chance(0.6)) route.name = `r${index}`;
  if (r.chance(0.8))
    route.match = Array.from({ length: 1 + r.int(2) }, (_, i) => httpMatch(r, r.chance(0.3) ? `m${i}` : undefined));
  const kind = r.int(10);
  if (kind < 6) {
    const count = r.chance(0.4) ? 2 + r.int(2) : 1;
    const weights = count === 1 ? [100] : count === 2 ? [r.pick([50, 80, 90, 0])] : [40, 30];
    if (count === 2) weights.push(100 - (weights[0] as number));
    if (count === 3) weights.push(30);
    route.route = Array.from({ length: count }, (_, i) => {
      const target = r.chance(0.8) ? defaultTarget : r.pick(SERVICES.filter((s) => s.ports.length === 1));
      const d: Record<string, unknown> = { destination: destination(r, target, namespace, r.chance(0.6)) };
      if (count > 1) d.weight = weights[i];
      return d;
    });
    if (r.chance(0.2)) route.rewrite = r.chance(0.5) ? { uri: "/v2" } : { authority: "rewritten.internal" };
    if (r.chance(0.2)) route.timeout = r.pick(["2s", "0.5s", "10s"]);
  } else if (kind < 8) {
    const redirect: Record<string, unknown> = {};
    if (r.chance(0.6)) redirect.uri = "/moved";
    if (r.chance(0.4)) redirect.authority = "new.example.com";
    if (r.chance(0.3)) redirect.redirectCode = r.pick([302, 307, 308]);
    if (r.chance(0.2)) redirect.scheme = "https";
    // istiod rejects a redirect with only a code.
    if (!redirect.uri && !redirect.authority && !redirect.scheme) redirect.uri = "/elsewhere";
    route.redirect = redirect;
  } else {
    route.directResponse = {
      status: r.pick([200, 403, 418, 503]),
      ...(r.chance(0.6) ? { body: { string: `answer ${index}` } } : {}),
    };
  }
  return route;
}

function destinationRule(r: Random, s: PlatformService, namespace: string, name: string) {
  const subsets = SUBSETS.filter(() => r.chance(0.7)).map((v) => ({ name: v, labels: { version: v } }));
  return {
    apiVersion: "networking.istio.io/v1",
    kind: "DestinationRule",
    metadata: { name, namespace },
    spec: {
      host: hostFor(r, s, namespace),
      ...(r.chance(0.3) ? { trafficPolicy: { loadBalancer: { simple: "ROUND_ROBIN" } } } : {}),
      subsets,
    },
  };
}

function headersFor(r: Random): Record<string, string> {
  const h: Record<string, string> = {};
  if (r.chance(0.5)) h["end-user"] = r.pick(USERS);
  if (r.chance(0.15)) h["x-canary"] = "1";
  return h;
}

function sidecarScenario(r: Random, seed: number): OracleScenario {
  const proxy = r.pick(PODS.slice(0, 3)) as OracleProxy;
  const objects: object[] = [];
  const httpServices = SERVICES.filter((s) => s.ports.some((p) => p.name.startsWith("http")));
  const targets = httpServices.filter(() => r.chance(0.4));
  if (targets.length === 0) targets.push(r.pick(httpServices));
  targets.forEach((target, i) => {
    const namespace = r.chance(0.75) ? target.namespace : proxy.namespace;
    const http = Array.from({ length: 1 + r.int(4) }, (_, j) => httpRoute(r, j, namespace, target));
    objects.push({
      apiVersion: "networking.istio.io/v1",
      kind: "VirtualService",
      metadata: { name: `vs-${i}`, namespace },
      spec: { hosts: [hostFor(r, target, namespace)], http },
    });
    if (r.chance(0.6)) objects.push(destinationRule(r, target, namespace, `dr-${i}`));
  });
  if (r.chance(0.2)) {
    objects.push({
      apiVersion: "networking.istio.io/v1",
      kind: "Sidecar",
      metadata: { name: "default", namespace: proxy.namespace },
      spec: { egress: [{ hosts: [r.pick(["./*", "shop/*", "default/*"]), "istio-system/*"] }] },
    });
  }
  const requests = Array.from({ length: 3 }, (): OracleRequest => {
    const s = r.chance(0.85) ? r.pick(targets) : r.pick(SERVICES);
    const port = (s.ports[0] as { port: number }).port;
    const host = r.pick([s.name, `${s.name}:${port}`, fqdn(s), `${s.name}.${s.namespace}`, `${fqdn(s)}:${port}`]);
    return {
      address: s.vip,
      port,
      host,
      path: r.pick(PATHS),
      method: r.pick(["GET", "GET", "POST"]),
      headers: headersFor(r),
    };
  });
  return { name: `random-sidecar-${seed}`, kubernetes: PLATFORM, istio: yaml(objects), proxy, requests };
}

function gatewayScenario(r: Random, seed: number): OracleScenario {
  const proxy = PODS[3] as OracleProxy;
  const gatewayNamespace = r.pick(["istio-system", "default"]);
  const hosts = GATEWAY_HOSTS.filter(() => r.chance(0.6));
  if (hosts.length === 0) hosts.push("shop.example.com");
  const serverHosts = r.chance(0.3) ? ["*"] : r.chance(0.3) ? ["*.example.com", "www.example.org"] : hosts;
  const servers: object[] = [
    {
      port: { number: 8080, name: "http", protocol: "HTTP" },
      hosts: serverHosts,
      ...(r.chance(0.15) ? { tls: { httpsRedirect: true } } : {}),
    },
  ];
  if (r.chance(0.3))
    servers.push({
      port: { number: 8443, name: "https", protocol: "HTTPS" },
      hosts: serverHosts,
      tls: { mode: "SIMPLE", credentialName: "shop-cert" },
    });
  const objects: object[] = [
    {
      apiVersion: "networking.istio.io/v1",
      kind: "Gateway",
      metadata: { name: "gw", namespace: gatewayNamespace },
      spec: { selector: { istio: "ingressgateway" }, servers },
    },
  ];
  const vsCount = 1 + r.int(2);
  for (let i = 0; i < vsCount; i++) {
    const namespace = r.pick(["default", "shop", gatewayNamespace]);
    const target = r.pick(SERVICES);
    const vsHosts = r.chance(0.2) ? ["*"] : hosts.filter((_, j) => j % vsCount === i || r.chance(0.3));
    if (vsHosts.length === 0) vsHosts.push(hosts[0] as string);
    const http = Array.from({ length: 1 + r.int(3) }, (_, j) => httpRoute(r, j, namespace, target));
    objects.push({
      apiVersion: "networking.istio.io/v1",
      kind: "VirtualService",
      metadata: { name: `gw-vs-${i}`, namespace },
      spec: { hosts: vsHosts, gateways: [`${gatewayNamespace}/gw`], http },
    });
    if (r.chance(0.4)) objects.push(destinationRule(r, target, target.namespace, `dr-${i}`));
  }
  const requests = Array.from(
    { length: 3 },
    (): OracleRequest => ({
      address: proxy.ip,
      port: 8080,
      host: r.chance(0.85) ? r.pick(hosts) : "unknown.example.net",
      path: r.pick(PATHS),
      method: r.pick(["GET", "GET", "POST"]),
      headers: headersFor(r),
    }),
  );
  return { name: `random-gateway-${seed}`, kubernetes: PLATFORM, istio: yaml(objects), proxy, requests };
}

/** Seeded random scenarios: the same list on every run. */
export function randomScenarios(count: number, seed = 9): OracleScenario[] {
  const out: OracleScenario[] = [];
  for (let i = 0; i < count; i++) {
    const r = createRandom(seed * 100_003 + i);
    out.push(r.chance(0.7) ? sidecarScenario(r, i) : gatewayScenario(r, i));
  }
  return out;
}

const repo = path.resolve(import.meta.dirname, "../..");
const bookinfoFile = (rel: string) => fs.readFileSync(path.join(repo, "test/fixtures/istio/bookinfo", rel), "utf8");

const PRODUCTPAGE: OracleProxy = {
  type: "sidecar",
  namespace: "default",
  name: "productpage-v1-1",
  ip: "10.1.0.6",
  labels: { app: "productpage", version: "v1" },
};

function bookinfoRequests(): OracleRequest[] {
  const out: OracleRequest[] = [];
  for (const host of ["reviews:9080", "ratings:9080", "details:9080", "productpage:9080"])
    for (const user of [undefined, "jason"])
      out.push({
        address: "0.0.0.0",
        port: 9080,
        host,
        path: "/r/1",
        method: "GET",
        headers: user ? { "end-user": user } : {},
      });
  return out;
}

/** The Bookinfo samples (test/fixtures/istio/bookinfo), one scenario per networking file. */
export function bookinfoScenarios(): OracleScenario[] {
  const platform = bookinfoFile("platform/bookinfo.yaml");
  // Bookinfo's Services carry no clusterIP; the caller is productpage's Pod.
  const kubernetes = `${platform}\n---\n${yaml([podObject(PRODUCTPAGE, [9080])])}`;
  const rules = bookinfoFile("networking/destination-rule-all.yaml");
  const sidecarFiles = [
    "virtual-service-all-v1.yaml",
    "virtual-service-reviews-test-v2.yaml",
    "virtual-service-reviews-jason-v2-v3.yaml",
    "virtual-service-reviews-80-20.yaml",
    "virtual-service-reviews-90-10.yaml",
    "virtual-service-reviews-50-v3.yaml",
    "virtual-service-reviews-v2-v3.yaml",
    "virtual-service-reviews-v3.yaml",
    "virtual-service-ratings-test-abort.yaml",
    "virtual-service-ratings-test-delay.yaml",
    "virtual-service-details-v2.yaml",
    "virtual-service-ratings-db.yaml",
  ];
  const out: OracleScenario[] = sidecarFiles.map((file) => ({
    name: `bookinfo-${file.replace(/\.yaml$/, "")}`,
    kubernetes,
    istio: `${rules}\n---\n${bookinfoFile(`networking/${file}`)}`,
    proxy: PRODUCTPAGE,
    requests: bookinfoRequests(),
  }));
  // This file brings its own DestinationRule for details (the same name as destination-rule-all's).
  out.push({
    name: "bookinfo-fault-injection-details-v1",
    kubernetes,
    istio: bookinfoFile("networking/fault-injection-details-v1.yaml"),
    proxy: PRODUCTPAGE,
    requests: bookinfoRequests(),
  });
  const gatewayPod = PODS[3] as OracleProxy;
  out.push({
    name: "bookinfo-gateway",
    kubernetes: `${platform}\n---\n${yaml([podObject(gatewayPod, [8080])])}`,
    istio: `${rules}\n---\n${bookinfoFile("networking/bookinfo-gateway.yaml")}`,
    proxy: gatewayPod,
    requests: ["/productpage", "/static/x.css", "/login", "/logout", "/api/v1/products/1", "/other"].map((p) => ({
      address: gatewayPod.ip,
      port: 8080,
      host: "bookinfo.example.com",
      path: p,
      method: "GET",
      headers: {},
    })),
  });
  return out;
}

const SLEEP = PODS[0] as OracleProxy;
const GATEWAY_POD = PODS[3] as OracleProxy;

const istioObject = (kind: string, namespace: string, name: string, spec: object) => ({
  apiVersion: kind === "PeerAuthentication" ? "security.istio.io/v1" : "networking.istio.io/v1",
  kind,
  metadata: { name, namespace },
  spec,
});

const httpRequests = (address: string, port: number, host: string, paths: readonly string[], headers = {}) =>
  paths.map((p): OracleRequest => ({ address, port, host, path: p, method: "GET", headers }));

const REVIEWS = "reviews.default.svc.cluster.local";
const RATINGS = "ratings.default.svc.cluster.local";
const DELEGATE_PATHS = ["/api/v1/items", "/api/v2", "/api", "/static/app.js", "/", "/login"];

/** Delegate VirtualServices (a root's `http[].delegate`), on a sidecar and on a gateway. */
function delegateScenarios(): OracleScenario[] {
  const subsets = istioObject("DestinationRule", "default", "reviews", {
    host: REVIEWS,
    subsets: SUBSETS.map((v) => ({ name: v, labels: { version: v } })),
  });
  const child = (namespace: string, name: string) =>
    istioObject("VirtualService", namespace, name, {
      http: [
        {
          name: "v1-items",
          match: [{ uri: { prefix: "/api/v1" } }, { uri: { exact: "/api" }, name: "bare" }],
          route: [{ destination: { host: REVIEWS, subset: "v2" } }],
        },
        {
          match: [{ uri: { prefix: "/api/v2" }, headers: { "end-user": { exact: "jason" } } }],
          route: [{ destination: { host: RATINGS } }],
        },
        { name: "rest", route: [{ destination: { host: REVIEWS, subset: "v3" } }] },
      ],
    });
  const rootHttp = (childNamespace: string) => [
    { name: "api", match: [{ uri: { prefix: "/api" } }], delegate: { name: "reviews-api", namespace: childNamespace } },
    {
      name: "static",
      match: [{ uri: { prefix: "/static" } }],
      delegate: { name: "reviews-static", namespace: childNamespace },
    },
    { route: [{ destination: { host: REVIEWS, subset: "v1" } }] },
  ];
  const staticChild = (namespace: string) =>
    istioObject("VirtualService", namespace, "reviews-static", {
      http: [{ match: [{ uri: { prefix: "/static/app" } }], route: [{ destination: { host: RATINGS } }] }],
    });
  const sidecar = (childNamespace: string): OracleScenario => ({
    name: `delegate-sidecar-${childNamespace}`,
    kubernetes: PLATFORM,
    istio: yaml([
      subsets,
      istioObject("VirtualService", "default", "reviews", { hosts: [REVIEWS], http: rootHttp(childNamespace) }),
      child(childNamespace, "reviews-api"),
      staticChild(childNamespace),
    ]),
    proxy: SLEEP,
    requests: [
      ...httpRequests("10.96.0.10", 9080, "reviews:9080", DELEGATE_PATHS),
      ...httpRequests("10.96.0.10", 9080, "reviews:9080", ["/api/v2/x"], { "end-user": "jason" }),
    ],
  });
  const gateway: OracleScenario = {
    name: "delegate-gateway",
    kubernetes: PLATFORM,
    istio: yaml([
      subsets,
      istioObject("Gateway", "istio-system", "gw", {
        selector: { istio: "ingressgateway" },
        servers: [{ port: { number: 8080, name: "http", protocol: "HTTP" }, hosts: ["shop.example.com"] }],
      }),
      istioObject("VirtualService", "istio-system", "shop", {
        hosts: ["shop.example.com"],
        gateways: ["istio-system/gw"],
        http: rootHttp("default"),
      }),
      child("default", "reviews-api"),
      staticChild("default"),
    ]),
    proxy: GATEWAY_POD,
    requests: [
      ...httpRequests(GATEWAY_POD.ip, 8080, "shop.example.com", DELEGATE_PATHS),
      ...httpRequests(GATEWAY_POD.ip, 8080, "shop.example.com", ["/api/v2/x"], { "end-user": "jason" }),
    ],
  };
  return [sidecar("default"), sidecar("shop"), gateway];
}

/** ServiceEntries: external DNS hosts, a STATIC entry with an address and endpoints, with and without routes. */
function serviceEntryScenarios(): OracleScenario[] {
  const external = istioObject("ServiceEntry", "default", "httpbin", {
    hosts: ["httpbin.example.com"],
    ports: [{ number: 80, name: "http", protocol: "HTTP" }],
    location: "MESH_EXTERNAL",
    resolution: "DNS",
  });
  const staticEntry = istioObject("ServiceEntry", "shop", "legacy", {
    hosts: ["legacy.internal"],
    addresses: ["10.200.0.10"],
    ports: [{ number: 8081, name: "http-legacy", protocol: "HTTP" }],
    location: "MESH_INTERNAL",
    resolution: "STATIC",
    endpoints: [
      { address: "10.2.0.1", labels: { version: "v1" } },
      { address: "10.2.0.2", labels: { version: "v2" } },
    ],
  });
  const wildcard = istioObject("ServiceEntry", "default", "wild", {
    hosts: ["*.wikipedia.org"],
    ports: [{ number: 80, name: "http", protocol: "HTTP" }],
    location: "MESH_EXTERNAL",
    resolution: "NONE",
  });
  const externalRequests = [
    ...httpRequests("203.0.113.7", 80, "httpbin.example.com", ["/", "/status/418", "/headers"]),
    ...httpRequests("203.0.113.7", 80, "en.wikipedia.org", ["/wiki"]),
  ];
  const legacyRequests = httpRequests("10.200.0.10", 8081, "legacy.internal", ["/", "/v2/x"]);
  return [
    {
      name: "service-entry-plain",
      kubernetes: PLATFORM,
      istio: yaml([external, staticEntry, wildcard]),
      proxy: SLEEP,
      requests: [...externalRequests, ...legacyRequests],
    },
    {
      name: "service-entry-routed",
      kubernetes: PLATFORM,
      istio: yaml([
        external,
        staticEntry,
        wildcard,
        istioObject("VirtualService", "default", "httpbin", {
          hosts: ["httpbin.example.com"],
          http: [
            {
              match: [{ uri: { prefix: "/status" } }],
              timeout: "3s",
              route: [{ destination: { host: "httpbin.example.com" } }],
            },
            { match: [{ uri: { exact: "/headers" } }], directResponse: { status: 418 } },
            { route: [{ destination: { host: "httpbin.example.com", port: { number: 80 } } }] },
          ],
        }),
        istioObject("VirtualService", "shop", "legacy", {
          hosts: ["legacy.internal"],
          http: [
            {
              match: [{ uri: { prefix: "/v2" } }],
              route: [{ destination: { host: "legacy.internal", subset: "v2" } }],
            },
            {
              route: [
                { destination: { host: "legacy.internal", subset: "v1" }, weight: 80 },
                { destination: { host: "legacy.internal", subset: "v2" }, weight: 20 },
              ],
            },
          ],
        }),
        istioObject("DestinationRule", "shop", "legacy", {
          host: "legacy.internal",
          subsets: [
            { name: "v1", labels: { version: "v1" } },
            { name: "v2", labels: { version: "v2" } },
          ],
        }),
      ]),
      proxy: SLEEP,
      requests: [...externalRequests, ...legacyRequests],
    },
    {
      name: "service-entry-gateway",
      kubernetes: PLATFORM,
      istio: yaml([
        external,
        istioObject("Gateway", "istio-system", "gw", {
          selector: { istio: "ingressgateway" },
          servers: [{ port: { number: 8080, name: "http", protocol: "HTTP" }, hosts: ["*"] }],
        }),
        istioObject("VirtualService", "istio-system", "egress", {
          hosts: ["proxy.example.com"],
          gateways: ["istio-system/gw"],
          http: [
            {
              rewrite: { authority: "httpbin.example.com" },
              route: [{ destination: { host: "httpbin.example.com" } }],
            },
          ],
        }),
      ]),
      proxy: GATEWAY_POD,
      requests: httpRequests(GATEWAY_POD.ip, 8080, "proxy.example.com", ["/", "/get"]),
    },
  ];
}

/** TCP routes on api's tcp-admin port (9000). */
function tcpScenarios(): OracleScenario[] {
  const api = "api.shop.svc.cluster.local";
  const tcpRequests = [
    ...httpRequests("10.96.1.11", 9000, "api.shop:9000", ["/"]),
    ...httpRequests("10.96.1.11", 8000, "api.shop:8000", ["/"]),
  ];
  const subsets = istioObject("DestinationRule", "shop", "api", {
    host: api,
    subsets: [
      { name: "v1", labels: { version: "v1" } },
      { name: "v2", labels: { version: "v2" } },
    ],
  });
  return [
    { name: "tcp-plain", kubernetes: PLATFORM, istio: "", proxy: SLEEP, requests: tcpRequests },
    {
      name: "tcp-route-subset",
      kubernetes: PLATFORM,
      istio: yaml([
        subsets,
        istioObject("VirtualService", "shop", "api", {
          hosts: [api],
          tcp: [
            { match: [{ port: 9000 }], route: [{ destination: { host: api, subset: "v2", port: { number: 9000 } } }] },
          ],
        }),
      ]),
      proxy: SLEEP,
      requests: tcpRequests,
    },
    {
      name: "tcp-route-other-service",
      kubernetes: PLATFORM,
      istio: yaml([
        istioObject("VirtualService", "default", "api-admin", {
          hosts: [api],
          tcp: [{ route: [{ destination: { host: REVIEWS, port: { number: 9080 } } }] }],
        }),
      ]),
      proxy: SLEEP,
      requests: tcpRequests,
    },
  ];
}

/** Mesh mTLS: PeerAuthentication and ISTIO_MUTUAL DestinationRules change no routing or resource names. */
function mtlsScenarios(): OracleScenario[] {
  const requests = [
    ...httpRequests("10.96.0.10", 9080, "reviews:9080", ["/", "/api"]),
    ...httpRequests("10.96.1.10", 80, "web.shop", ["/"]),
  ];
  return [
    {
      name: "mtls-strict-istio-mutual",
      kubernetes: PLATFORM,
      istio: yaml([
        istioObject("PeerAuthentication", "istio-system", "default", { mtls: { mode: "STRICT" } }),
        istioObject("DestinationRule", "default", "reviews", {
          host: REVIEWS,
          trafficPolicy: { tls: { mode: "ISTIO_MUTUAL" } },
          subsets: [{ name: "v1", labels: { version: "v1" } }],
        }),
      ]),
      proxy: SLEEP,
      requests,
    },
    {
      name: "mtls-disable-workload",
      kubernetes: PLATFORM,
      istio: yaml([
        istioObject("PeerAuthentication", "default", "productpage", {
          selector: { matchLabels: { app: "productpage" } },
          mtls: { mode: "DISABLE" },
        }),
        istioObject("DestinationRule", "shop", "web", {
          host: "web.shop.svc.cluster.local",
          trafficPolicy: { tls: { mode: "DISABLE" } },
        }),
      ]),
      proxy: PRODUCTPAGE,
      requests,
    },
  ];
}

/** More delegate, ServiceEntry and TCP cases: inherited root fields, a missing delegate, TCP entries, gateway TCP. */
function moreFeatureScenarios(): OracleScenario[] {
  const api = "api.shop.svc.cluster.local";
  return [
    {
      name: "delegate-inherit-and-missing",
      kubernetes: PLATFORM,
      istio: yaml([
        istioObject("VirtualService", "default", "reviews", {
          hosts: [REVIEWS],
          http: [
            { name: "gone", match: [{ uri: { prefix: "/gone" } }], delegate: { name: "missing" } },
            {
              name: "users",
              match: [{ uri: { prefix: "/u" }, headers: { "end-user": { prefix: "ja" } } }],
              rewrite: { uri: "/users" },
              timeout: "4s",
              delegate: { name: "users" },
            },
            { route: [{ destination: { host: RATINGS } }] },
          ],
        }),
        istioObject("VirtualService", "default", "users", {
          http: [
            {
              match: [{ uri: { prefix: "/u/1" }, headers: { "end-user": { exact: "jason" } } }],
              route: [{ destination: { host: REVIEWS } }],
            },
            { name: "own", timeout: "1s", route: [{ destination: { host: "details" } }] },
          ],
        }),
      ]),
      proxy: SLEEP,
      requests: [
        ...httpRequests("10.96.0.10", 9080, "reviews", ["/gone/x", "/u/1", "/u/2", "/x"], { "end-user": "jason" }),
        ...httpRequests("10.96.0.10", 9080, "reviews", ["/u/1"], { "end-user": "mary" }),
      ],
    },
    {
      name: "service-entry-tcp-and-multiport",
      kubernetes: PLATFORM,
      istio: yaml([
        istioObject("ServiceEntry", "default", "db", {
          hosts: ["db.internal"],
          addresses: ["10.200.0.20"],
          ports: [{ number: 5432, name: "tcp-pg", protocol: "TCP" }],
          location: "MESH_INTERNAL",
          resolution: "STATIC",
          endpoints: [{ address: "10.2.0.9" }],
        }),
        istioObject("ServiceEntry", "default", "multi", {
          hosts: ["multi.example.com"],
          ports: [
            { number: 80, name: "http", protocol: "HTTP" },
            { number: 8080, name: "http-alt", protocol: "HTTP" },
          ],
          location: "MESH_EXTERNAL",
          resolution: "DNS",
        }),
        istioObject("VirtualService", "default", "multi", {
          hosts: ["multi.example.com"],
          http: [
            { match: [{ port: 8080 }], route: [{ destination: { host: "multi.example.com", port: { number: 80 } } }] },
            { route: [{ destination: { host: "multi.example.com" } }] },
          ],
        }),
      ]),
      proxy: SLEEP,
      requests: [
        ...httpRequests("10.200.0.20", 5432, "db.internal", ["/"]),
        ...httpRequests("198.51.100.4", 80, "multi.example.com", ["/a"]),
        ...httpRequests("198.51.100.4", 8080, "multi.example.com:8080", ["/b"]),
      ],
    },
    {
      name: "gateway-tcp-server",
      kubernetes: PLATFORM,
      istio: yaml([
        istioObject("Gateway", "istio-system", "gw", {
          selector: { istio: "ingressgateway" },
          servers: [
            { port: { number: 8080, name: "http", protocol: "HTTP" }, hosts: ["*"] },
            { port: { number: 8443, name: "tcp", protocol: "TCP" }, hosts: ["*"] },
          ],
        }),
        istioObject("VirtualService", "istio-system", "tcp", {
          hosts: ["*"],
          gateways: ["istio-system/gw"],
          tcp: [{ match: [{ port: 8443 }], route: [{ destination: { host: api, port: { number: 9000 } } }] }],
          http: [{ route: [{ destination: { host: "web.shop.svc.cluster.local" } }] }],
        }),
      ]),
      proxy: GATEWAY_POD,
      requests: [
        ...httpRequests(GATEWAY_POD.ip, 8443, "anything", ["/"]),
        ...httpRequests(GATEWAY_POD.ip, 8080, "shop.example.com", ["/"]),
      ],
    },
  ];
}

/** A TLS connection (SNI) to `address:port`, which the sidecar routes without terminating it. */
const tlsRequest = (address: string, port: number, sni: string): OracleRequest => ({
  address,
  port,
  host: sni,
  path: "/",
  method: "GET",
  headers: {},
  tls: { sni },
});

/**
 * Sidecar TLS and HTTPS service ports: SNI filter chains from `tls` routes (static predicates: port, source
 * labels, gateways), unknown SNI to the outbound policy's cluster, SNI-less ServiceEntries sharing 0.0.0.0,
 * and `tcp` routes by destination subnet.
 */
function tlsScenarios(): OracleScenario[] {
  const secure = "secure.shop.svc.cluster.local";
  const kubernetes = `${PLATFORM}\n---\n${yaml([
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "secure", namespace: "shop", labels: { app: "secure" } },
      spec: {
        clusterIP: "10.96.1.20",
        selector: { app: "secure" },
        ports: [
          { port: 443, name: "https", targetPort: 8443, protocol: "TCP" },
          { port: 5443, name: "tls-db", targetPort: 5443, protocol: "TCP" },
        ],
      },
    },
  ])}`;
  const externalTls = istioObject("ServiceEntry", "default", "google", {
    hosts: ["www.google.com", "maps.google.com"],
    ports: [{ number: 443, name: "tls", protocol: "TLS" }],
    location: "MESH_EXTERNAL",
    resolution: "DNS",
  });
  const githubTls = istioObject("ServiceEntry", "default", "github", {
    hosts: ["api.github.com"],
    ports: [{ number: 443, name: "https", protocol: "HTTPS" }],
    location: "MESH_EXTERNAL",
    resolution: "DNS",
  });
  const subsets = istioObject("DestinationRule", "shop", "secure", {
    host: secure,
    subsets: [
      { name: "v1", labels: { version: "v1" } },
      { name: "v2", labels: { version: "v2" } },
    ],
  });
  const routes = istioObject("VirtualService", "shop", "secure", {
    hosts: [secure, "*.secure.example"],
    tls: [
      {
        match: [{ sniHosts: ["admin.secure.example"], sourceLabels: { app: "not-sleep" } }],
        route: [{ destination: { host: secure, subset: "v1" } }],
      },
      {
        match: [{ sniHosts: [secure], port: 443 }],
        route: [{ destination: { host: secure, subset: "v2", port: { number: 443 } } }],
      },
      {
        match: [{ sniHosts: ["*.secure.example"], sourceLabels: { app: "sleep" } }],
        route: [{ destination: { host: secure, subset: "v1", port: { number: 443 } } }],
      },
      {
        match: [{ sniHosts: ["db.secure.example"], port: 5443 }],
        route: [{ destination: { host: secure, port: { number: 5443 } } }],
      },
      {
        match: [{ sniHosts: ["gw.secure.example"], gateways: ["istio-system/gw"] }],
        route: [{ destination: { host: secure, subset: "v1" } }],
      },
    ],
  });
  // A second VirtualService for the host: istiod adds its tls matches too (ones not already handled).
  const more = istioObject("VirtualService", "default", "secure-more", {
    hosts: [secure, `*.${secure}`],
    tls: [
      {
        match: [{ sniHosts: [secure] }, { sniHosts: [`alt.${secure}`] }],
        route: [{ destination: { host: secure, subset: "v1", port: { number: 443 } } }],
      },
    ],
  });
  const externalRoute = istioObject("VirtualService", "default", "google", {
    hosts: ["www.google.com"],
    tls: [
      {
        match: [{ sniHosts: ["www.google.com"] }],
        route: [{ destination: { host: "maps.google.com" } }],
      },
    ],
  });
  const requests = [
    tlsRequest("10.96.1.20", 443, secure),
    tlsRequest("10.96.1.20", 443, "a.secure.example"),
    tlsRequest("10.96.1.20", 443, "admin.secure.example"),
    tlsRequest("10.96.1.20", 443, `alt.${secure}`),
    tlsRequest("10.96.1.20", 443, "unknown.example.org"),
    tlsRequest("10.96.1.20", 5443, "db.secure.example"),
    tlsRequest("10.96.1.20", 5443, secure),
    tlsRequest("142.250.1.1", 443, "www.google.com"),
    tlsRequest("142.250.1.1", 443, "maps.google.com"),
    tlsRequest("140.82.1.1", 443, "api.github.com"),
    tlsRequest("203.0.113.9", 443, "other.example.net"),
  ];
  const registryOnly = istioObject("Sidecar", "default", "default", {
    egress: [{ hosts: ["*/*"] }],
    outboundTrafficPolicy: { mode: "REGISTRY_ONLY" },
  });
  const api = "api.shop.svc.cluster.local";
  return [
    { name: "tls-sidecar-plain", kubernetes, istio: yaml([externalTls, githubTls]), proxy: SLEEP, requests },
    {
      name: "tls-sidecar-routes",
      kubernetes,
      istio: yaml([externalTls, githubTls, subsets, routes, more, externalRoute]),
      proxy: SLEEP,
      requests,
    },
    {
      name: "tls-sidecar-routes-other-proxy",
      kubernetes,
      istio: yaml([externalTls, githubTls, subsets, routes, more, externalRoute]),
      proxy: PRODUCTPAGE,
      requests,
    },
    {
      name: "tls-sidecar-registry-only",
      kubernetes,
      istio: yaml([externalTls, githubTls, subsets, routes, registryOnly]),
      proxy: SLEEP,
      requests,
    },
    {
      name: "tcp-route-destination-subnets",
      kubernetes,
      istio: yaml([
        istioObject("VirtualService", "shop", "api-subnets", {
          hosts: [api],
          tcp: [
            {
              match: [{ destinationSubnets: ["10.96.1.0/24"], port: 9000 }],
              route: [{ destination: { host: REVIEWS, port: { number: 9080 } } }],
            },
            {
              match: [{ sourceLabels: { app: "sleep" } }],
              route: [{ destination: { host: RATINGS, port: { number: 9080 } } }],
            },
          ],
        }),
      ]),
      proxy: SLEEP,
      requests: [
        ...httpRequests("10.96.1.11", 9000, "api.shop:9000", ["/"]),
        ...httpRequests("10.96.1.11", 8000, "api.shop:8000", ["/"]),
      ],
    },
  ];
}

/** Upstream TLS a DestinationRule originates: SIMPLE with SNI and SANs, MUTUAL with files, per port and subset. */
function tlsOriginationScenarios(): OracleScenario[] {
  const entry = (name: string, host: string) =>
    istioObject("ServiceEntry", "default", name, {
      hosts: [host],
      ports: [
        { number: 80, name: "http", protocol: "HTTP" },
        { number: 8080, name: "http-alt", protocol: "HTTP" },
      ],
      location: "MESH_EXTERNAL",
      resolution: "DNS",
    });
  return [
    {
      name: "tls-origination",
      kubernetes: PLATFORM,
      istio: yaml([
        entry("simple", "simple.example.com"),
        entry("mutual", "mutual.example.com"),
        istioObject("DestinationRule", "default", "simple", {
          host: "simple.example.com",
          trafficPolicy: {
            tls: { mode: "SIMPLE", sni: "edge.example.com", subjectAltNames: ["edge.example.com"] },
            portLevelSettings: [{ port: { number: 8080 }, tls: { mode: "DISABLE" } }],
          },
        }),
        istioObject("DestinationRule", "default", "mutual", {
          host: "mutual.example.com",
          trafficPolicy: {
            tls: {
              mode: "MUTUAL",
              clientCertificate: "/etc/certs/client.pem",
              privateKey: "/etc/certs/key.pem",
              caCertificates: "/etc/certs/ca.pem",
            },
          },
          subsets: [{ name: "v1", labels: { version: "v1" }, trafficPolicy: { tls: { mode: "SIMPLE" } } }],
        }),
        istioObject("VirtualService", "default", "mutual", {
          hosts: ["mutual.example.com"],
          http: [
            {
              match: [{ uri: { prefix: "/v1" } }],
              route: [{ destination: { host: "mutual.example.com", subset: "v1" } }],
            },
            { route: [{ destination: { host: "mutual.example.com" } }] },
          ],
        }),
        istioObject("DestinationRule", "default", "reviews", {
          host: REVIEWS,
          trafficPolicy: { tls: { mode: "ISTIO_MUTUAL", sni: "reviews.custom" } },
        }),
      ]),
      proxy: SLEEP,
      requests: [
        ...httpRequests("198.51.100.7", 80, "simple.example.com", ["/"]),
        ...httpRequests("198.51.100.7", 8080, "simple.example.com:8080", ["/"]),
        ...httpRequests("198.51.100.8", 80, "mutual.example.com", ["/", "/v1/x"]),
        ...httpRequests("10.96.0.10", 9080, "reviews", ["/"]),
      ],
    },
  ];
}

/** Scenarios written by hand for features the random ones do not cover. */
export function featureScenarios(): OracleScenario[] {
  return [
    ...delegateScenarios(),
    ...serviceEntryScenarios(),
    ...tcpScenarios(),
    ...mtlsScenarios(),
    ...moreFeatureScenarios(),
    ...tlsScenarios(),
    ...tlsOriginationScenarios(),
  ];
}

/** Every scenario the recorded answers cover. */
export function oracleScenarios(): OracleScenario[] {
  return [...bookinfoScenarios(), ...randomScenarios(60), ...featureScenarios()];
}
