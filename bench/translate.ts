// Translation benchmark: a mesh of S services (default 1,000) in 10 namespaces with two pods each
// (2,000 sidecars), DestinationRules with three subsets and VirtualServices (80/20 plus a header match) on a
// third of the services. Prints the cost of loading, indexing, cold translation of every proxy, one
// VirtualService change and one endpoint change until the affected proxies' new resources are known, and
// the heap. Figures, not assertions. With --istiod, also istiod's generation on the same mesh and changes, and
// the ratio per step (bench/translate-istiod.ts; needs Go, see bench/README.md).
//
//   npm run bench:translate -- [--services=1000] [--trials=5] [--istiod]
import { performance } from "node:perf_hooks";
import { type AnyConfigObject, createTranslator, loadConfig } from "@xdskit/translate";
import { compareWithIstiod } from "./translate-istiod.js";
import { meshYaml, podAddYaml, vsChangeYaml } from "./translate-mesh.js";

const arg = (name: string, fallback: number) => {
  const found = process.argv.find((a) => a.startsWith(`--${name}=`));
  return found ? Number(found.split("=")[1]) : fallback;
};
const SERVICES = arg("services", 1000);
const TRIALS = arg("trials", 5);

// Wall time and this process's CPU time: on a shared machine the CPU time is the steadier figure.
const ms = (t: { wall: number; cpu: number }) => `${t.wall.toFixed(1)} ms wall, ${t.cpu.toFixed(1)} ms CPU`;
const timed = <T>(run: () => T): { value: T; wall: number; cpu: number } => {
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  const value = run();
  const wall = performance.now() - wall0;
  const used = process.cpuUsage(cpu0);
  return { value, wall, cpu: (used.user + used.system) / 1000 };
};
const mb = () => {
  globalThis.gc?.();
  return `${(process.memoryUsage().heapUsed / 1024 / 1024).toFixed(0)} MB`;
};
const median = <T extends { cpu: number }>(list: T[]): T =>
  [...list].sort((a, b) => a.cpu - b.cpu)[Math.floor(list.length / 2)] as T;

const heapBefore = mb();
const text = meshYaml(SERVICES);
const load = timed(() => loadConfig(text));
const loaded = load.value;
if (loaded.diagnostics.length > 0) throw new Error(JSON.stringify(loaded.diagnostics.slice(0, 3)));

const index = timed(() => createTranslator({ objects: loaded.objects }));
const translator = index.value;

const pods = loaded.objects.filter((o) => o.kind === "Pod");
const views = new Set<unknown>();
const cold = timed(() => {
  for (const pod of pods) {
    const id = `${pod.metadata.namespace}/${pod.metadata.name}`;
    views.add(translator.connect(id, id));
  }
});
const heapAfter = mb();

const vsChanges: Array<{ wall: number; cpu: number; changed: number }> = [];
const epChanges: Array<{ wall: number; cpu: number; changed: number }> = [];
for (let trial = 0; trial < TRIALS; trial++) {
  const vs = loadConfig(vsChangeYaml(trial)).objects[0] as AnyConfigObject;
  const vsRun = timed(() => translator.apply([{ op: "update", object: vs }]));
  vsChanges.push({ wall: vsRun.wall, cpu: vsRun.cpu, changed: vsRun.value.proxies.size });
  const pod = loadConfig(podAddYaml(trial)).objects[0] as AnyConfigObject;
  const epRun = timed(() => translator.apply([{ op: "add", object: pod }]));
  epChanges.push({ wall: epRun.wall, cpu: epRun.cpu, changed: epRun.value.proxies.size });
}
const vsMedian = median(vsChanges);
const epMedian = median(epChanges);

console.log(`translate bench: ${SERVICES} services, ${pods.length} sidecars, ${loaded.objects.length} objects`);
console.table([
  { step: "load YAML (parse + decode)", time: ms(load) },
  { step: "index (registry + mesh)", time: ms(index) },
  { step: `cold: every proxy (${views.size} distinct views)`, time: ms(cold) },
  { step: `one VirtualService change (median of ${TRIALS}; ${vsMedian.changed} proxies changed)`, time: ms(vsMedian) },
  { step: `one endpoint change (median of ${TRIALS}; ${epMedian.changed} proxies changed)`, time: ms(epMedian) },
  { step: "heap before / after cold translation", time: `${heapBefore} / ${heapAfter}` },
]);

if (process.argv.includes("--istiod"))
  await compareWithIstiod({
    mesh: text,
    trials: TRIALS,
    views,
    index,
    cold,
    virtualService: vsMedian,
    endpoint: epMedian,
  });
