// The registry kept up to date change by change against one built from scratch: random sequences of Service,
// Pod, WorkloadEntry and EndpointSlice versions; after every batch the snapshot must answer like
// buildRegistry of the same objects (services in order, by hostname, endpoints, inputs, workloads and the
// services of each workload), every earlier snapshot must still answer as it did, and lastUpdate must name
// every source whose services changed.
import { describe, expect, it } from "vitest";
import { loadConfig } from "../config/loader.js";
import { type AnyConfigObject, type ConfigKey, configKey } from "../config/model.js";
import { buildRegistry, createRegistryState } from "./build.js";
import type { Registry } from "./model.js";

const one = (yaml: string) => loadConfig(yaml).objects[0] as AnyConfigObject;
const service = (ns: string, name: string, selector: string, ip: string, extra = "") =>
  one(`apiVersion: v1
kind: Service
metadata: { name: ${name}, namespace: ${ns} }
spec: { selector: { ${selector} }, clusterIP: ${ip}, ports: [{ name: http, port: 9080 }${extra}] }`);
const pod = (ns: string, name: string, labels: string, ip: string) =>
  one(`apiVersion: v1
kind: Pod
metadata: { name: ${name}, namespace: ${ns}, labels: { ${labels} } }
spec: { containers: [{ name: app, ports: [{ name: http, containerPort: 9080 }] }] }
status: { podIP: ${ip} }`);
const workloadEntry = (ns: string, name: string, labels: string, ip: string) =>
  one(`apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: ${name}, namespace: ${ns} }
spec: { address: ${ip}, labels: { ${labels} } }`);
const slice = (ns: string, service: string, ip: string) =>
  one(`apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: ${service}-x, namespace: ${ns}, labels: { kubernetes.io/service-name: ${service} } }
ports: [{ name: http, port: 9080 }]
endpoints: [{ addresses: [${ip}], conditions: { ready: true } }]`);

/** Each slot is one object (by key) with the versions it may take; undefined is "absent". */
const SLOTS: ReadonlyArray<ReadonlyArray<AnyConfigObject | undefined>> = [
  [service("a", "reviews", "app: reviews", "10.96.0.1"), service("a", "reviews", "app: reviews, v: two", "10.96.0.1")],
  [
    service("a", "ratings", "app: ratings", "10.96.0.2"),
    service("a", "ratings", "app: ratings", "10.96.0.2", ", { name: tcp, port: 3306 }"),
    undefined,
  ],
  [
    service("b", "details", "app: details", "10.96.1.1"),
    service("b", "details", "app: reviews", "10.96.1.9"),
    undefined,
  ],
  [
    pod("a", "reviews-1", "app: reviews, v: one", "10.1.0.1"),
    pod("a", "reviews-1", "app: reviews, v: two", "10.1.0.1"),
  ],
  [
    pod("a", "reviews-2", "app: reviews, v: two", "10.1.0.2"),
    pod("a", "reviews-2", "app: ratings", "10.1.0.22"),
    undefined,
  ],
  [pod("a", "ratings-1", "app: ratings", "10.1.0.3"), undefined],
  [pod("b", "details-1", "app: details", "10.2.0.1"), pod("b", "details-1", "app: reviews", "10.2.0.1"), undefined],
  [
    workloadEntry("a", "vm", "app: ratings", "10.3.0.1"),
    workloadEntry("a", "vm", "app: reviews", "10.3.0.1"),
    undefined,
  ],
  [slice("b", "details", "10.2.0.9"), slice("b", "details", "10.2.0.10"), undefined],
];

/** Everything a registry answers, as plain data. */
function answers(registry: Registry) {
  return {
    services: registry.services.map((s) => `${s.hostname}/${s.ports.map((p) => p.port).join(",")}`),
    // By position in `services`: the same objects, not stale versions of them.
    byHostname: [...registry.byHostname].map(([h, list]) => [h, list.map((s) => registry.services.indexOf(s))]).sort(),
    endpoints: registry.services.map((s) =>
      s.ports.map((p) => registry.endpointsOf(s, p.port).map((e) => `${e.address}:${e.port}`)),
    ),
    inputs: registry.services.map((s) => [...(registry.inputsOf.get(s) ?? [])].sort()),
    workloads: registry.workloads.map((w) => w.key),
    servicesOf: registry.workloads.map((w) => [
      w.key,
      registry.servicesOf(w).map((s) => s.hostname),
      registry.workload(w.namespace, w.name)?.key,
    ]),
  };
}

function random(seed: number) {
  let state = seed;
  return (below: number) => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state % below;
  };
}

describe("createRegistryState", () => {
  for (const seed of [1, 2, 3, 4])
    it(`answers like buildRegistry after every batch of random changes (seed ${seed})`, () => {
      const next = random(seed);
      const current = new Map<ConfigKey, AnyConfigObject>();
      for (const slot of SLOTS) if (slot[0]) current.set(configKey(slot[0]), slot[0]);
      const state = createRegistryState([...current.values()]);
      const history: Array<{ registry: Registry; expected: ReturnType<typeof answers> }> = [];
      for (let round = 0; round < 60; round++) {
        const changes: Array<{ old?: AnyConfigObject; next?: AnyConfigObject }> = [];
        for (let c = 0; c < 1 + next(3); c++) {
          const slot = SLOTS[next(SLOTS.length)] ?? [];
          const version = slot[next(slot.length)];
          const key = configKey((slot.find((o) => o !== undefined) as AnyConfigObject) ?? version);
          const old = current.get(key);
          if (
            old === version ||
            changes.some((ch) => (ch.old ?? ch.next) && configKey((ch.old ?? ch.next) as AnyConfigObject) === key)
          )
            continue;
          if (version) current.set(key, version);
          else current.delete(key);
          changes.push({ old, next: version });
        }
        const before = state.registry;
        const after = state.update(changes);
        expect(after).toBe(state.registry);
        const expected = answers(buildRegistry([...current.values()]));
        expect(answers(after)).toEqual(expected);
        // Sources whose services differ from the previous snapshot are named in lastUpdate.
        for (const source of new Set([...before.services, ...after.services].map((s) => s.source))) {
          const was = before.services.filter((s) => s.source === source);
          const now = after.services.filter((s) => s.source === source);
          if (was.length !== now.length || was.some((s, i) => s !== now[i]))
            expect(state.lastUpdate.rebuilt.has(source)).toBe(true);
        }
        history.push({ registry: after, expected });
      }
      for (const { registry, expected } of history) expect(answers(registry)).toEqual(expected);
    });
});
