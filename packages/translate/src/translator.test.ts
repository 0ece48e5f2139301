import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "./config/loader.js";
import type { AnyConfigObject } from "./config/model.js";
import { createTranslator } from "./translator.js";

const repo = path.resolve(import.meta.dirname, "../../..");
const read = (rel: string) => ({ file: rel, text: fs.readFileSync(path.join(repo, rel), "utf8") });
const objectsOf = (text: string) => {
  const loaded = loadConfig(text);
  expect(loaded.diagnostics).toEqual([]);
  return loaded.objects;
};
const one = (text: string) => objectsOf(text)[0] as AnyConfigObject;
const REVIEWS = "reviews.default.svc.cluster.local";

// Bookinfo on VMs, plus a second namespace whose workload only sees its own namespace.
const platform = () => [
  ...loadConfig([
    read("test/fixtures/no-kubernetes/bookinfo-vms.yaml"),
    read("test/fixtures/istio/bookinfo/networking/destination-rule-all.yaml"),
  ]).objects,
  ...objectsOf(`
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: batch, namespace: jobs }
spec: { address: 10.9.0.1, labels: { app: batch } }
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: default, namespace: jobs }
spec: { egress: [{ hosts: ["./*"] }] }
`),
];

describe("createTranslator", () => {
  it("answers a VirtualService change with the changed route configuration of the proxies that see the host, only", () => {
    const translator = createTranslator({ objects: platform() });
    translator.connect("pp", "default/productpage-v1");
    translator.connect("reviews", "default/reviews-v1");
    translator.connect("batch", "jobs/batch");
    const vs = loadConfig(read("test/fixtures/istio/bookinfo/networking/virtual-service-reviews-test-v2.yaml"))
      .objects[0] as AnyConfigObject;
    const update = translator.apply([{ op: "add", object: vs }]);
    expect(update.affectedProxies).toBe(2); // batch's Sidecar hides the default namespace
    expect([...update.proxies.keys()].sort()).toEqual(["pp", "reviews"]);
    expect(update.proxies.get("pp")?.changes).toEqual({ RouteConfiguration: { updated: ["9080"], removed: [] } });
    expect(update.proxies.get("reviews")?.changes).toEqual({ RouteConfiguration: { updated: ["9080"], removed: [] } });
    const routes = update.proxies
      .get("reviews")
      ?.resources.RouteConfiguration[0]?.virtualHosts?.find((v) => v.name === `${REVIEWS}:9080`)?.routes;
    expect(routes?.[0]?.route?.cluster).toBe(`outbound|9080|v2|${REVIEWS}`);
    expect(translator.resourcesOf("reviews")).toBe(update.proxies.get("reviews")?.resources);
  });

  it("answers an endpoint change with the changed load assignments only, and a deleted rule with removed clusters", () => {
    const translator = createTranslator({ objects: platform() });
    translator.connect("pp", "default/productpage-v1");
    const added = translator.apply([
      {
        op: "add",
        object: one(`
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: reviews-v2-b, namespace: default }
spec: { address: 10.0.0.29, ports: { http: 19082 }, labels: { app: reviews, version: v2 }, serviceAccount: bookinfo-reviews }`),
      },
    ]);
    expect(added.proxies.get("pp")?.changes).toEqual({
      ClusterLoadAssignment: {
        updated: [`outbound|9080||${REVIEWS}`, `outbound|9080|v2|${REVIEWS}`],
        removed: [],
      },
    });
    const deleted = translator.apply([{ op: "delete", key: "DestinationRule/default/reviews" }]);
    const changes = deleted.proxies.get("pp")?.changes;
    expect([...(changes?.Cluster?.removed ?? [])].sort()).toEqual([
      `outbound|9080|v1|${REVIEWS}`,
      `outbound|9080|v2|${REVIEWS}`,
      `outbound|9080|v3|${REVIEWS}`,
    ]);
    expect(changes?.ClusterLoadAssignment?.removed).toHaveLength(3);
  });

  it("removes and adds back the cluster of a DNS ServiceEntry whose last endpoint goes and comes back", () => {
    const entry = one(`
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: legacy, namespace: default }
spec:
  hosts: [legacy.internal]
  addresses: [10.200.0.10]
  ports: [{ number: 8081, name: http, protocol: HTTP }]
  resolution: DNS
  workloadSelector: { labels: { app: legacy } }`);
    const workload = one(`
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: legacy-1, namespace: default }
spec: { address: legacy-1.vm.internal, labels: { app: legacy } }`);
    const translator = createTranslator({ objects: [...platform(), entry, workload] });
    translator.connect("pp", "default/productpage-v1");
    const cluster = "outbound|8081||legacy.internal";
    const names = () => translator.resourcesOf("pp")?.Cluster.map((c) => c.name);
    expect(names()).toContain(cluster);
    const gone = translator.apply([{ op: "delete", key: "WorkloadEntry/default/legacy-1" }]);
    expect(gone.proxies.get("pp")?.changes.Cluster?.removed).toEqual([cluster]);
    expect(names()).not.toContain(cluster);
    const fresh = createTranslator({ objects: [...platform(), entry] });
    fresh.connect("pp", "default/productpage-v1");
    expect(translator.resourcesOf("pp")).toEqual(fresh.resourcesOf("pp"));
    translator.apply([{ op: "add", object: workload }]);
    expect(names()).toContain(cluster);
  });

  it("regenerates one view for proxies that share it, and reports no change when nothing changed for them", () => {
    const translator = createTranslator({ objects: platform() });
    // Two replicas of one workload: the same view.
    translator.connect("a", "default/reviews-v2");
    translator.connect("b", {
      id: "sidecar~10.0.0.22~reviews-v2-x.default~default.svc.cluster.local",
      metadata: { WORKLOAD_NAME: "reviews-v2" },
    });
    expect(translator.resourcesOf("a")).toBe(translator.resourcesOf("b"));
    const dr = loadConfig(read("test/fixtures/istio/bookinfo/networking/destination-rule-all.yaml")).objects.find(
      (o) => o.metadata.name === "ratings",
    ) as AnyConfigObject;
    const same = translator.apply([{ op: "update", object: dr }]);
    expect(same.affectedProxies).toBe(2);
    expect(same.generatedViews).toBe(1);
    expect(same.proxies.size).toBe(0);
    translator.disconnect("b");
    expect(translator.proxies.has("b")).toBe(false);
    expect(() => translator.apply([{ op: "nope" } as never])).toThrow(/changes\[0\]/);
  });
});
