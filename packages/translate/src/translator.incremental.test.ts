// The translator's incremental answers against a translation from scratch: random sequences of changes
// (services, pods, slices, routing rules, Sidecars, gateways) applied one batch at a time, and after every
// batch each connected proxy's resources must equal what generate() gives for the same objects, and the
// reported changes must name exactly the resources that differ from what the proxy had.
import type { Node } from "@xdskit/core";
import { describe, expect, it } from "vitest";
import { loadConfig } from "./config/loader.js";
import { type AnyConfigObject, type ConfigKey, configKey } from "./config/model.js";
import { generate } from "./generate/generate.js";
import { proxyOf } from "./generate/proxy.js";
import { PROXY_RESOURCE_KINDS, type ProxyResources } from "./generate/resources.js";
import { buildMesh } from "./index/mesh.js";
import { createTranslator, type TranslatorChange } from "./translator.js";

const V1 = "networking.istio.io/v1";
const pod = (ns: string, name: string, labels: Record<string, string>, ip: string, port = 9080) => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name, namespace: ns, labels },
  spec: {
    serviceAccountName: labels.app ?? "default",
    containers: [{ name: "app", ports: [{ name: "http", containerPort: port }] }],
  },
  status: { podIP: ip },
});
const service = (ns: string, name: string, spec: Record<string, unknown>, annotations?: Record<string, string>) => ({
  apiVersion: "v1",
  kind: "Service",
  metadata: { name, namespace: ns, ...(annotations ? { annotations } : {}) },
  spec,
});
const istio = (kind: string, ns: string, name: string, spec: Record<string, unknown>) => ({
  apiVersion: V1,
  kind,
  metadata: { name, namespace: ns },
  spec,
});
const http = (port = 9080) => ({ name: "http", port, targetPort: port });

/** Each slot is one object (by key) with the versions it may take; `undefined` is "absent". */
const SLOTS: ReadonlyArray<ReadonlyArray<object | undefined>> = [
  [
    service("a", "reviews", { selector: { app: "reviews" }, clusterIP: "10.96.0.1", ports: [http()] }),
    service("a", "reviews", {
      selector: { app: "reviews" },
      clusterIP: "10.96.0.1",
      ports: [http(), http(8080)].map((p, i) => ({ ...p, name: `http-${i}` })),
    }),
    service(
      "a",
      "reviews",
      { selector: { app: "reviews" }, clusterIP: "10.96.0.1", ports: [http()] },
      { "networking.istio.io/exportTo": "." },
    ),
    undefined,
  ],
  [
    service("a", "ratings", {
      selector: { app: "ratings" },
      clusterIP: "10.96.0.2",
      ports: [http(), { name: "tcp-db", port: 3306 }],
    }),
    service("a", "ratings", { selector: { app: "ratings", version: "v1" }, clusterIP: "10.96.0.2", ports: [http()] }),
    undefined,
  ],
  [
    service("b", "details", { selector: { app: "details" }, clusterIP: "10.96.1.1", ports: [http()] }),
    service("b", "details", { selector: { app: "details" }, clusterIP: "10.96.1.9", ports: [http()] }),
    undefined,
  ],
  [service("a", "legacy", { clusterIP: "10.96.0.3", ports: [http()] }), undefined],
  [service("b", "old", { clusterIP: "10.96.1.2", ports: [http()] }), undefined],
  [
    pod("a", "reviews-v1", { app: "reviews", version: "v1" }, "10.1.0.1"),
    pod("a", "reviews-v1", { app: "reviews", version: "v2" }, "10.1.0.1"),
    undefined,
  ],
  [
    pod("a", "reviews-v2", { app: "reviews", version: "v2" }, "10.1.0.2"),
    pod("a", "reviews-v2", { app: "reviews", version: "v2" }, "10.1.0.22"),
    undefined,
  ],
  [
    pod("a", "ratings-v1", { app: "ratings", version: "v1" }, "10.1.0.3"),
    pod("a", "ratings-v1", { app: "ratings", version: "v2" }, "10.1.0.3"),
    undefined,
  ],
  [pod("b", "details-v1", { app: "details", version: "v1" }, "10.2.0.1"), undefined],
  [
    {
      apiVersion: "discovery.k8s.io/v1",
      kind: "EndpointSlice",
      metadata: { name: "legacy-x", namespace: "a", labels: { "kubernetes.io/service-name": "legacy" } },
      addressType: "IPv4",
      ports: [{ name: "http", port: 9080 }],
      endpoints: [{ addresses: ["10.1.0.1"], targetRef: { kind: "Pod", name: "reviews-v1" } }],
    },
    {
      apiVersion: "discovery.k8s.io/v1",
      kind: "EndpointSlice",
      metadata: { name: "legacy-x", namespace: "a", labels: { "kubernetes.io/service-name": "legacy" } },
      addressType: "IPv4",
      ports: [{ name: "http", port: 9080 }],
      endpoints: [{ addresses: ["10.1.0.7"], zone: "z1" }],
    },
    {
      apiVersion: "discovery.k8s.io/v1",
      kind: "EndpointSlice",
      metadata: { name: "legacy-x", namespace: "a", labels: { "kubernetes.io/service-name": "reviews" } },
      addressType: "IPv4",
      ports: [{ name: "http", port: 9080 }],
      endpoints: [{ addresses: ["10.1.0.8"] }],
    },
    undefined,
  ],
  [
    {
      apiVersion: "v1",
      kind: "Endpoints",
      metadata: { name: "old", namespace: "b" },
      subsets: [{ addresses: [{ ip: "10.2.0.9" }], ports: [{ name: "http", port: 9080 }] }],
    },
    {
      apiVersion: "v1",
      kind: "Endpoints",
      metadata: { name: "old", namespace: "b" },
      subsets: [
        {
          addresses: [{ ip: "10.2.0.1", targetRef: { kind: "Pod", name: "details-v1" } }],
          ports: [{ name: "http", port: 9080 }],
        },
      ],
    },
    undefined,
  ],
  [
    istio("VirtualService", "a", "reviews", {
      hosts: ["reviews"],
      http: [
        {
          route: [
            { destination: { host: "reviews", subset: "v1" }, weight: 70 },
            { destination: { host: "reviews", subset: "v2" }, weight: 30 },
          ],
        },
      ],
    }),
    istio("VirtualService", "a", "reviews", {
      hosts: ["reviews"],
      http: [
        {
          match: [{ headers: { user: { exact: "jason" } } }],
          route: [{ destination: { host: "reviews", subset: "v2" } }],
        },
        { route: [{ destination: { host: "ratings" } }] },
      ],
    }),
    istio("VirtualService", "a", "reviews", {
      hosts: ["reviews"],
      http: [
        { match: [{ sourceLabels: { app: "client" } }], route: [{ destination: { host: "reviews", subset: "v1" } }] },
        { route: [{ destination: { host: "reviews" } }] },
      ],
    }),
    istio("VirtualService", "a", "reviews", {
      hosts: ["reviews", "ext.example.com"],
      http: [{ route: [{ destination: { host: "details.b.svc.cluster.local" } }] }],
    }),
    undefined,
  ],
  [
    istio("VirtualService", "b", "details", {
      hosts: ["details"],
      gateways: ["mesh", "istio-system/ingress"],
      http: [{ route: [{ destination: { host: "details" } }] }],
    }),
    istio("VirtualService", "b", "details", {
      hosts: ["*.b.svc.cluster.local"],
      http: [{ timeout: "3s", route: [{ destination: { host: "details" } }] }],
    }),
    undefined,
  ],
  [
    istio("VirtualService", "a", "ratings", {
      hosts: ["ratings"],
      http: [{ route: [{ destination: { host: "ratings" } }] }],
    }),
    istio("VirtualService", "a", "ratings", {
      hosts: ["ratings"],
      http: [{ retries: { attempts: 5 }, route: [{ destination: { host: "ratings" } }] }],
    }),
    istio("VirtualService", "a", "ratings", {
      hosts: ["ratings"],
      http: [{ match: [{ uri: { prefix: "/v2" } }], route: [{ destination: { host: "reviews", subset: "v2" } }] }],
    }),
    undefined,
  ],
  [
    istio("DestinationRule", "a", "reviews", {
      host: "reviews",
      subsets: [
        { name: "v1", labels: { version: "v1" } },
        { name: "v2", labels: { version: "v2" } },
      ],
    }),
    istio("DestinationRule", "a", "reviews", {
      host: "reviews",
      trafficPolicy: { loadBalancer: { consistentHash: { httpHeaderName: "x-user" } } },
      subsets: [{ name: "v1", labels: { version: "v1" } }],
    }),
    undefined,
  ],
  [
    istio("DestinationRule", "istio-system", "b-wide", {
      host: "*.b.svc.cluster.local",
      trafficPolicy: { connectionPool: { http: { http2MaxRequests: 7 } } },
    }),
    undefined,
  ],
  [
    istio("Sidecar", "b", "default", { egress: [{ hosts: ["./*"] }] }),
    istio("Sidecar", "b", "default", { egress: [{ hosts: ["./*", "a/reviews.a.svc.cluster.local"] }] }),
    undefined,
  ],
  [
    istio("Sidecar", "istio-system", "default", {
      egress: [{ hosts: ["*/*"] }],
      outboundTrafficPolicy: { mode: "REGISTRY_ONLY" },
    }),
    undefined,
  ],
  [
    istio("ServiceEntry", "a", "ext", {
      hosts: ["ext.example.com"],
      ports: [{ number: 80, name: "http", protocol: "HTTP" }],
      resolution: "DNS",
    }),
    istio("ServiceEntry", "a", "ext", {
      hosts: ["ext.example.com"],
      addresses: ["240.0.0.1"],
      ports: [{ number: 443, name: "tls", protocol: "TLS" }],
      resolution: "STATIC",
      endpoints: [{ address: "1.2.3.4" }],
    }),
    istio("ServiceEntry", "a", "ext", {
      hosts: ["ext.example.com", "vm.a.internal"],
      ports: [{ number: 9080, name: "http", protocol: "HTTP" }],
      resolution: "STATIC",
      workloadSelector: { labels: { app: "reviews" } },
    }),
    undefined,
  ],
  [
    istio("WorkloadEntry", "a", "vm1", { address: "10.9.9.9", labels: { app: "reviews", version: "v3" } }),
    istio("WorkloadEntry", "a", "vm1", { address: "10.9.9.10", labels: { app: "ratings" }, weight: 3 }),
    undefined,
  ],
  [
    istio("Gateway", "istio-system", "ingress", {
      selector: { istio: "ingressgateway" },
      servers: [{ port: { number: 80, name: "http", protocol: "HTTP" }, hosts: ["*/*"] }],
    }),
    undefined,
  ],
];

/** Always present: the workloads connected by name, and the gateway's pod. */
const FIXED = [
  pod("a", "client", { app: "client" }, "10.1.1.1"),
  pod("b", "client2", { app: "client2" }, "10.2.1.1"),
  service("a", "client", { selector: { app: "client" }, clusterIP: "10.96.0.9", ports: [http()] }),
  {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "web", namespace: "b" },
    spec: {
      template: {
        metadata: { labels: { app: "details" } },
        spec: { containers: [{ name: "app", ports: [{ containerPort: 9080 }] }] },
      },
    },
  },
  pod("istio-system", "ingress", { istio: "ingressgateway" }, "10.3.0.1"),
];

const parse = (object: object): AnyConfigObject => {
  const loaded = loadConfig(JSON.stringify(object));
  expect(loaded.diagnostics).toEqual([]);
  return loaded.objects[0] as AnyConfigObject;
};
const FIXED_OBJECTS = FIXED.map(parse);
const VERSIONS = SLOTS.map((slot) => slot.map((v) => (v ? parse(v) : undefined)));

const CONNECTED: ReadonlyArray<[string, string | Node]> = [
  ["client", "a/client"],
  ["client2", "b/client2"],
  ["web", "b/web"],
  ["reviews-v1", { id: "sidecar~10.1.0.1~reviews-v1.a~a.svc.cluster.local" }],
  ["ratings-v1", { id: "sidecar~10.1.0.3~ratings-v1.a~a.svc.cluster.local" }],
  ["details-v1", { id: "sidecar~10.2.0.1~details-v1.b~b.svc.cluster.local" }],
  ["ingress", { id: "router~10.3.0.1~ingress.istio-system~istio-system.svc.cluster.local" }],
  ["grpc", { id: "sidecar~10.1.1.1~client.a~a.svc.cluster.local", metadata: { GENERATOR: "grpc" } }],
];

function mulberry32(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const nameOf = (r: { name?: string; clusterName?: string }) => r.name ?? r.clusterName ?? "";
/** Names that differ between two resource sets of one kind, by their JSON. */
function jsonDiff(before: ProxyResources, after: ProxyResources) {
  const out: Record<string, { updated: string[]; removed: string[] }> = {};
  for (const kind of PROXY_RESOURCE_KINDS) {
    const a = new Map((before[kind] as object[]).map((r) => [nameOf(r), JSON.stringify(r)]));
    const b = new Map((after[kind] as object[]).map((r) => [nameOf(r), JSON.stringify(r)]));
    const updated = [...b].filter(([n, json]) => a.get(n) !== json).map(([n]) => n);
    const removed = [...a.keys()].filter((n) => !b.has(n));
    if (updated.length > 0 || removed.length > 0) out[kind] = { updated: updated.sort(), removed: removed.sort() };
  }
  return out;
}
const sortedChanges = (changes: object) =>
  Object.fromEntries(
    Object.entries(changes).map(([kind, c]) => [
      kind,
      { updated: [...c.updated].sort(), removed: [...c.removed].sort() },
    ]),
  );

function run(seed: number, steps: number) {
  const random = mulberry32(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
  const state = VERSIONS.map((versions) => pick(versions));
  const current = () => [...FIXED_OBJECTS, ...state.filter((o): o is AnyConfigObject => o !== undefined)];
  const translator = createTranslator({ objects: current() });
  for (const [id, who] of CONNECTED) translator.connect(id, who);
  let mesh = buildMesh(current());
  const fresh = (who: string | Node) => generate(mesh, proxyOf(mesh, who));
  for (const [id, who] of CONNECTED) expect(translator.resourcesOf(id)).toEqual(fresh(who));
  for (let step = 0; step < steps; step++) {
    const changes: TranslatorChange[] = [];
    const slots = new Set(
      Array.from({ length: random() < 0.6 ? 1 : 2 + Math.floor(random() * 2) }, () =>
        Math.floor(random() * SLOTS.length),
      ),
    );
    for (const slot of slots) {
      const before = state[slot];
      const next = pick(VERSIONS[slot] as ReadonlyArray<AnyConfigObject | undefined>);
      state[slot] = next;
      if (next) changes.push({ op: before ? "update" : "add", object: next });
      else if (before)
        changes.push(
          random() < 0.5 ? { op: "delete", object: before } : { op: "delete", key: configKey(before) as ConfigKey },
        );
    }
    const previous = new Map(CONNECTED.map(([id]) => [id, translator.resourcesOf(id) as ProxyResources]));
    const update = translator.apply(changes);
    mesh = buildMesh(current());
    const context = `seed ${seed}, step ${step}: ${changes.map((c) => `${c.op} ${c.object ? configKey(c.object) : "key" in c ? c.key : ""}`).join(", ")}`;
    for (const [id, who] of CONNECTED) {
      const now = translator.resourcesOf(id) as ProxyResources;
      expect(now, `${context}: ${id}`).toEqual(fresh(who));
      const expected = jsonDiff(previous.get(id) as ProxyResources, now);
      const reported = update.proxies.get(id);
      if (Object.keys(expected).length === 0) expect(reported, `${context}: ${id} reported unchanged`).toBeUndefined();
      else {
        expect(reported?.resources, `${context}: ${id}`).toBe(now);
        expect(sortedChanges(reported?.changes ?? {}), `${context}: ${id} changes`).toEqual(expected);
      }
    }
  }
}

describe("createTranslator, incrementally", () => {
  for (const seed of [1, 2, 3, 4, 5, 6])
    it(`after random changes equals a translation from scratch (seed ${seed})`, () => {
      run(seed, 40);
    });
});
