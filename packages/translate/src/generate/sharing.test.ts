// Views of different namespaces share the generated objects nothing namespace-specific changes (clusters,
// default virtual hosts, VirtualService routes), and stop sharing them exactly where a namespace-local
// DestinationRule or Sidecar makes that namespace see something else. Shared objects are never written to:
// the first view is deep-frozen before the others are generated (a write would throw in strict mode).
import type { RouteConfiguration } from "@xdskit/core";
import { describe, expect, it } from "vitest";
import { buildMesh } from "../index/mesh.js";
import { type AnyConfigObject, loadConfig } from "../index.js";
import { generate } from "./generate.js";
import { proxyOf } from "./proxy.js";
import type { ProxyResources } from "./resources.js";

const REVIEWS = "reviews.shop.svc.cluster.local";
const RATINGS = "ratings.shop.svc.cluster.local";

function meshObjects(extra = ""): AnyConfigObject[] {
  const services = ["reviews", "ratings"]
    .map(
      (name, i) => `apiVersion: v1
kind: Service
metadata: { name: ${name}, namespace: shop }
spec: { selector: { app: ${name} }, clusterIP: 10.96.0.${i + 1}, ports: [{ name: http, port: 9080 }] }
---
apiVersion: v1
kind: Pod
metadata: { name: ${name}-v1, namespace: shop, labels: { app: ${name}, version: v1 } }
spec: { containers: [{ name: app, ports: [{ containerPort: 9080 }] }] }
status: { podIP: 10.1.0.${i + 1} }`,
    )
    .join("\n---\n");
  const clients = ["a", "b", "c"]
    .map(
      (ns, i) => `apiVersion: v1
kind: Pod
metadata: { name: client, namespace: ${ns}, labels: { app: client } }
spec: { containers: [{ name: app, ports: [{ containerPort: 8080 }] }] }
status: { podIP: 10.2.0.${i + 1} }`,
    )
    .join("\n---\n");
  const routing = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: shop }
spec:
  host: reviews
  subsets: [{ name: v1, labels: { version: v1 } }, { name: v2, labels: { version: v2 } }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: shop }
spec:
  hosts: [reviews]
  http:
  - match: [{ headers: { end-user: { exact: jason } } }]
    route: [{ destination: { host: reviews, subset: v2 } }]
  - route: [{ destination: { host: reviews, subset: v1 }, weight: 80 }, { destination: { host: reviews, subset: v2 }, weight: 20 }]`;
  const loaded = loadConfig([services, clients, routing, extra].filter(Boolean).join("\n---\n"));
  expect(loaded.diagnostics).toEqual([]);
  return [...loaded.objects];
}

const views = (objects: readonly AnyConfigObject[]) => {
  const mesh = buildMesh([...objects]);
  const of = (ns: string) => generate(mesh, proxyOf(mesh, `${ns}/client`));
  const a = deepFreeze(of("a"));
  return { a, b: of("b"), c: of("c"), shop: generate(mesh, proxyOf(mesh, "shop/reviews-v1")) };
};
const cluster = (view: ProxyResources, name: string) => view.Cluster.find((c) => c.name === name);
const routeConfig = (view: ProxyResources): RouteConfiguration | undefined =>
  view.RouteConfiguration.find((r) => r.name === "9080");
const vhost = (view: ProxyResources, host: string) =>
  routeConfig(view)?.virtualHosts?.find((v) => v.name === `${host}:9080`);
/** What a proxy of `ns` gets from a mesh of the same objects that generated nothing else before. */
const alone = (objects: readonly AnyConfigObject[], ns: string) => {
  const mesh = buildMesh([...objects]);
  return generate(mesh, proxyOf(mesh, `${ns}/client`));
};

function deepFreeze<T>(value: T, seen = new Set<unknown>()): T {
  if (typeof value !== "object" || value === null || seen.has(value) || ArrayBuffer.isView(value)) return value;
  seen.add(value);
  for (const child of Object.values(value)) deepFreeze(child, seen);
  return Object.freeze(value);
}

describe("views of different namespaces", () => {
  it("share the clusters, default virtual hosts and VirtualService routes nothing namespace-specific changes", () => {
    const { a, b, shop } = views(meshObjects());
    for (const name of [`outbound|9080||${REVIEWS}`, `outbound|9080|v1|${REVIEWS}`, `outbound|9080||${RATINGS}`]) {
      expect(cluster(a, name)).toBeDefined();
      expect(cluster(b, name)).toBe(cluster(a, name));
    }
    expect(b.ClusterLoadAssignment).toBe(a.ClusterLoadAssignment); // the whole list, not only its items
    expect(vhost(b, RATINGS)).toBe(vhost(a, RATINGS));
    expect(vhost(a, REVIEWS)?.routes).toHaveLength(2);
    expect(vhost(b, REVIEWS)?.routes).toBe(vhost(a, REVIEWS)?.routes);
    // The service's own namespace reaches it by its short name too: not the same virtual host.
    expect(vhost(shop, RATINGS)).not.toBe(vhost(a, RATINGS));
    expect(vhost(shop, RATINGS)?.domains).toContain("ratings");
    expect(vhost(a, RATINGS)?.domains).not.toContain("ratings");
    expect(vhost(shop, REVIEWS)?.routes).toBe(vhost(a, REVIEWS)?.routes);
  });

  it("do not share what a namespace-local DestinationRule changes, and equal a translation of that namespace alone", () => {
    const objects = meshObjects(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews-here, namespace: c }
spec:
  host: ${REVIEWS}
  trafficPolicy: { loadBalancer: { consistentHash: { httpHeaderName: x-user } } }
  subsets: [{ name: v1, labels: { version: v1 } }]`);
    const { a, b, c } = views(objects);
    expect(cluster(b, `outbound|9080||${REVIEWS}`)).toBe(cluster(a, `outbound|9080||${REVIEWS}`));
    expect(cluster(c, `outbound|9080||${REVIEWS}`)).not.toBe(cluster(a, `outbound|9080||${REVIEWS}`));
    expect(cluster(c, `outbound|9080|v2|${REVIEWS}`)).toBeUndefined(); // c's own rule has no v2
    expect(cluster(c, `outbound|9080||${RATINGS}`)).toBe(cluster(a, `outbound|9080||${RATINGS}`));
    expect(c.ClusterLoadAssignment).not.toBe(a.ClusterLoadAssignment);
    expect(b.ClusterLoadAssignment).toBe(a.ClusterLoadAssignment);
    const cRoutes = vhost(c, REVIEWS)?.routes ?? [];
    expect(cRoutes).not.toBe(vhost(a, REVIEWS)?.routes);
    expect(cRoutes[1]?.route?.hashPolicy?.[0]).toEqual({ header: { headerName: "x-user" } });
    expect(vhost(a, REVIEWS)?.routes?.[1]?.route?.hashPolicy).toBeUndefined();
    expect(c).toEqual(alone(objects, "c"));
    expect(b).toEqual(alone(objects, "b"));
  });

  it("do not share what a namespace's Sidecar narrows", () => {
    const objects = meshObjects(`apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: default, namespace: c }
spec: { egress: [{ hosts: ["shop/${RATINGS}"] }] }`);
    const { a, c } = views(objects);
    expect(vhost(c, REVIEWS)).toBeUndefined();
    expect(cluster(c, `outbound|9080||${REVIEWS}`)).toBeUndefined();
    expect(vhost(c, RATINGS)).toBe(vhost(a, RATINGS));
    expect(routeConfig(c)).not.toBe(routeConfig(a));
    expect(c).toEqual(alone(objects, "c"));
  });

  it("keep every domain in one virtual host only when services share a VIP or a name", () => {
    const objects = meshObjects(`apiVersion: v1
kind: Service
metadata: { name: ratings-copy, namespace: shop }
spec: { selector: { app: ratings }, clusterIP: 10.96.0.2, ports: [{ name: http, port: 9080 }] }
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: lookalike, namespace: a }
spec: { hosts: [reviews.shop], ports: [{ number: 9080, name: http, protocol: HTTP }], resolution: DNS }`);
    const { a, b } = views(objects);
    for (const view of [a, b]) {
      const domains = (routeConfig(view)?.virtualHosts ?? []).flatMap((v) => v.domains ?? []);
      expect(domains.length).toBeGreaterThan(10);
      expect(domains.filter((d, i) => domains.indexOf(d) !== i)).toEqual([]);
      expect(domains).toContain("10.96.0.2");
      expect(domains).toContain("reviews.shop");
    }
    expect(vhost(a, REVIEWS)?.routes).toBe(vhost(b, REVIEWS)?.routes);
  });
});
