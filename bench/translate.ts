// Translation benchmark: a mesh of S services (default 1,000) in 10 namespaces with two pods each
// (2,000 sidecars), DestinationRules with three subsets and VirtualServices (80/20 plus a header match) on a
// third of the services. Prints the cost of loading, indexing, cold translation of every proxy, one
// VirtualService change and one endpoint change until the affected proxies' new resources are known, and
// the heap. Figures, not assertions.
//
//   node --conditions=source --expose-gc --import tsx bench/translate.ts [--services=1000] [--trials=5]
import { performance } from "node:perf_hooks";
import { type AnyConfigObject, createTranslator, loadConfig } from "@xdskit/translate";

const arg = (name: string, fallback: number) => {
  const found = process.argv.find((a) => a.startsWith(`--${name}=`));
  return found ? Number(found.split("=")[1]) : fallback;
};
const SERVICES = arg("services", 1000);
const TRIALS = arg("trials", 5);
const NAMESPACES = 10;

function meshYaml(services: number): string {
  const docs: string[] = [];
  for (let i = 0; i < services; i++) {
    const ns = `ns-${i % NAMESPACES}`;
    const name = `svc-${i}`;
    docs.push(`apiVersion: v1
kind: Service
metadata: { name: ${name}, namespace: ${ns} }
spec: { selector: { app: ${name} }, clusterIP: 10.96.${Math.floor(i / 250)}.${i % 250}, ports: [{ name: http, port: 9080 }] }`);
    for (const version of ["v1", "v2"])
      docs.push(`apiVersion: v1
kind: Pod
metadata: { name: ${name}-${version}, namespace: ${ns}, labels: { app: ${name}, version: ${version} } }
spec: { serviceAccountName: ${name}, containers: [{ name: app, ports: [{ containerPort: 9080 }] }] }
status: { podIP: 10.${version === "v1" ? 1 : 2}.${Math.floor(i / 250)}.${i % 250} }`);
    if (i % 3 === 0) {
      docs.push(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: ${name}, namespace: ${ns} }
spec:
  host: ${name}
  trafficPolicy: { connectionPool: { http: { http2MaxRequests: 100 } } }
  subsets: [{ name: v1, labels: { version: v1 } }, { name: v2, labels: { version: v2 } }, { name: v3, labels: { version: v3 } }]`);
      docs.push(vsYaml(name, ns, 80));
    }
  }
  return docs.join("\n---\n");
}

function vsYaml(name: string, ns: string, weight: number): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ${name}, namespace: ${ns} }
spec:
  hosts: [${name}]
  http:
  - match: [{ headers: { end-user: { exact: jason } } }]
    route: [{ destination: { host: ${name}, subset: v2 } }]
  - route: [{ destination: { host: ${name}, subset: v1 }, weight: ${weight} }, { destination: { host: ${name}, subset: v2 }, weight: ${100 - weight} }]`;
}

const ms = (t: number) => `${t.toFixed(1)} ms`;
const mb = () => {
  globalThis.gc?.();
  return `${(process.memoryUsage().heapUsed / 1024 / 1024).toFixed(0)} MB`;
};
const median = (list: number[]) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)] ?? 0;

const heapBefore = mb();
let t = performance.now();
const text = meshYaml(SERVICES);
const loaded = loadConfig(text);
const loadMs = performance.now() - t;
if (loaded.diagnostics.length > 0) throw new Error(JSON.stringify(loaded.diagnostics.slice(0, 3)));

t = performance.now();
const translator = createTranslator({ objects: loaded.objects });
const indexMs = performance.now() - t;

const pods = loaded.objects.filter((o) => o.kind === "Pod");
t = performance.now();
const views = new Set<unknown>();
for (const pod of pods)
  views.add(
    translator.connect(
      `${pod.metadata.namespace}/${pod.metadata.name}`,
      `${pod.metadata.namespace}/${pod.metadata.name}`,
    ),
  );
const coldMs = performance.now() - t;
const heapAfter = mb();

const vsChange: number[] = [];
const vsAffected: number[] = [];
const epChange: number[] = [];
const epAffected: number[] = [];
for (let trial = 0; trial < TRIALS; trial++) {
  const vs = loadConfig(vsYaml("svc-3", "ns-3", 50 + trial)).objects[0] as AnyConfigObject;
  t = performance.now();
  const update = translator.apply([{ op: "update", object: vs }]);
  vsChange.push(performance.now() - t);
  vsAffected.push(update.proxies.size);

  const pod = loadConfig(`apiVersion: v1
kind: Pod
metadata: { name: svc-3-v3-${trial}, namespace: ns-3, labels: { app: svc-3, version: v3 } }
spec: { containers: [{ name: app, ports: [{ containerPort: 9080 }] }] }
status: { podIP: 10.3.0.${trial + 1} }`).objects[0] as AnyConfigObject;
  t = performance.now();
  const epUpdate = translator.apply([{ op: "add", object: pod }]);
  epChange.push(performance.now() - t);
  epAffected.push(epUpdate.proxies.size);
}

console.log(`translate bench: ${SERVICES} services, ${pods.length} sidecars, ${loaded.objects.length} objects`);
console.table([
  { step: "load YAML (parse + decode)", time: ms(loadMs) },
  { step: "index (registry + mesh)", time: ms(indexMs) },
  { step: `cold: every proxy (${views.size} distinct views)`, time: ms(coldMs) },
  {
    step: `one VirtualService change (median of ${TRIALS}; ${median(vsAffected)} proxies changed)`,
    time: ms(median(vsChange)),
  },
  {
    step: `one endpoint change (median of ${TRIALS}; ${median(epAffected)} proxies changed)`,
    time: ms(median(epChange)),
  },
  { step: "heap before / after cold translation", time: `${heapBefore} / ${heapAfter}` },
]);
