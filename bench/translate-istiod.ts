// istiod beside xdskit on the translation benchmark's mesh (`bench/translate.ts --istiod`): writes the mesh and
// its changes for the Go timer in bench/istiod-generation/ (built on first use into .cache/), runs it with
// istiod's xDS cache on and off, and prints both sides with the ratio per step. See bench/README.md.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { resourceTypes } from "@xdskit/core";
import { PROXY_RESOURCE_KINDS, type ProxyResources } from "@xdskit/translate";
import { podAddYaml, vsChangeYaml } from "./translate-mesh.js";

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const GO_DIR = path.join(benchDir, "istiod-generation");
const GO_BIN = path.join(benchDir, "..", ".cache", "istiod-generation");
// One file per run: two runs at once must not read each other's mesh.
const INPUT = path.join(benchDir, ".cache", `translate-mesh-${process.pid}.json`);

interface Timing {
  wallMs: number;
  cpuMs: number;
}

/** xdskit's figures from bench/translate.ts (wall and CPU in ms). */
export interface XdskitFigures {
  mesh: string;
  trials: number;
  /** The distinct views cold translation returned (connect's results). */
  views: ReadonlySet<unknown>;
  index: { wall: number; cpu: number };
  cold: { wall: number; cpu: number };
  virtualService: { wall: number; cpu: number; changed: number };
  endpoint: { wall: number; cpu: number; changed: number };
}

interface IstiodChange extends Timing {
  intake: Timing;
  generate: Timing;
  proxiesPushed: number;
  resources: Record<string, number>;
}

/** What bench/istiod-generation prints (one JSON object). */
interface IstiodFigures {
  istio: string;
  cache: boolean;
  gomaxprocs: number;
  sidecars: number;
  measuredProxies: number;
  scale: number;
  start: Timing;
  pushContext: Timing;
  cold: Timing & {
    initCpuMs: number;
    generateCpuMs: number;
    measuredCpuMs: number;
    resources: Record<string, number>;
    bytes: number;
  };
  virtualServiceChanges: IstiodChange[];
  endpointChanges: IstiodChange[];
}

const flag = (name: string, fallback: string) =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? fallback;

/** Builds the Go timer (build.sh) when it is missing or older than its sources. */
function ensureBinary(): string {
  const sources = readdirSync(GO_DIR)
    .filter((f) => f.endsWith(".go") || f === "go.mod" || f === "go.sum" || f === "build.sh")
    .map((f) => statSync(path.join(GO_DIR, f)).mtimeMs);
  if (existsSync(GO_BIN) && statSync(GO_BIN).mtimeMs >= Math.max(...sources)) return GO_BIN;
  console.error("building bench/istiod-generation (istio.io/istio; minutes on a cold Go build cache) ...");
  const built = spawnSync("sh", [path.join(GO_DIR, "build.sh")], { stdio: ["ignore", "inherit", "inherit"] });
  if (built.status !== 0) throw new Error(`bench/istiod-generation/build.sh failed (exit ${built.status})`);
  return GO_BIN;
}

function runIstiod(bin: string, cache: "on" | "off", proxies: number): IstiodFigures {
  console.error(`running istiod's generators (xDS cache ${cache}, ${proxies || "all"} proxies measured) ...`);
  const run = spawnSync(bin, [`--input=${INPUT}`, `--cache=${cache}`, `--proxies=${proxies}`], {
    stdio: ["ignore", "pipe", "inherit"],
    maxBuffer: 16 * 1024 * 1024,
    encoding: "utf8",
  });
  if (run.status !== 0) throw new Error(`istiod-generation --cache=${cache} failed (exit ${run.status})`);
  return JSON.parse(run.stdout) as IstiodFigures;
}

/**
 * Encodes every distinct resource object of the views once: istiod's generators return encoded resources, xdskit's
 * translation returns objects that the snapshot cache encodes, so this is added to xdskit's cold figure for a
 * like-for-like row.
 */
function encodeViews(views: ReadonlySet<unknown>): { wall: number; cpu: number; resources: number } {
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  const seen = new Set<object>();
  for (const view of views as ReadonlySet<ProxyResources>)
    for (const kind of PROXY_RESOURCE_KINDS)
      for (const resource of view[kind]) {
        if (seen.has(resource)) continue;
        seen.add(resource);
        // biome-ignore lint/suspicious/noExplicitAny: the kind picks the codec
        (resourceTypes[kind].codec as any).encode(resource).finish();
      }
  const used = process.cpuUsage(cpu0);
  return { wall: performance.now() - wall0, cpu: (used.user + used.system) / 1000, resources: seen.size };
}

const medianBy = <T>(list: T[], key: (t: T) => number): T =>
  [...list].sort((a, b) => key(a) - key(b))[Math.floor(list.length / 2)] as T;
const fmt = (v: number) => (v >= 100 ? v.toFixed(0) : v.toFixed(1));
const ratio = (istiod: number, xdskit: number) => `${(istiod / xdskit).toFixed(1)}×`;

export async function compareWithIstiod(xdskit: XdskitFigures): Promise<void> {
  const caches = flag("istiod-cache", "on,off").split(",") as Array<"on" | "off">;
  const proxies = Number(flag("istiod-proxies", "200"));
  mkdirSync(path.dirname(INPUT), { recursive: true });
  const trials = Array.from({ length: xdskit.trials }, (_, trial) => trial);
  writeFileSync(
    INPUT,
    JSON.stringify({
      mesh: xdskit.mesh,
      virtualServiceChanges: trials.map(vsChangeYaml),
      podAdds: trials.map(podAddYaml),
    }),
  );
  const bin = ensureBinary();
  let runs: IstiodFigures[];
  try {
    runs = caches.map((cache) => runIstiod(bin, cache, proxies));
  } finally {
    rmSync(INPUT, { force: true });
  }

  const rows: Record<string, string>[] = [];
  const row = (step: string, x: { wall: number; cpu: number }, pick: (f: IstiodFigures) => Timing) => {
    const out: Record<string, string> = { step, "xdskit CPU / wall ms": `${fmt(x.cpu)} / ${fmt(x.wall)}` };
    for (const run of runs) {
      const t = pick(run);
      const label = `istiod cache ${run.cache ? "on" : "off"}`;
      out[`${label} CPU / wall ms`] = `${fmt(t.cpuMs)} / ${fmt(t.wallMs)}`;
      out[`${label} ÷ xdskit (CPU / wall)`] = `${ratio(t.cpuMs, x.cpu)} / ${ratio(t.wallMs, x.wall)}`;
    }
    rows.push(out);
  };
  const vs = (f: IstiodFigures) => medianBy(f.virtualServiceChanges, (c) => c.cpuMs);
  const ep = (f: IstiodFigures) => medianBy(f.endpointChanges, (c) => c.cpuMs);
  row("index / full PushContext (not like for like)", xdskit.index, (f) => f.pushContext);
  row("cold: every proxy", xdskit.cold, (f) => f.cold);
  const encoded = encodeViews(xdskit.views);
  const coldEncoded = { wall: xdskit.cold.wall + encoded.wall, cpu: xdskit.cold.cpu + encoded.cpu };
  row(`cold + encoding xdskit's ${encoded.resources} distinct resources`, coldEncoded, (f) => f.cold);
  row(`one VirtualService change (median of ${xdskit.trials})`, xdskit.virtualService, vs);
  row(`one endpoint change (median of ${xdskit.trials})`, xdskit.endpoint, ep);

  const first = runs[0] as IstiodFigures;
  console.log(
    `\nistiod ${first.istio} (GOMAXPROCS=${first.gomaxprocs}), ${first.sidecars} sidecars, ` +
      (first.scale === 1
        ? "every proxy measured"
        : `${first.measuredProxies} measured and scaled ×${first.scale.toFixed(1)} (cold and per-proxy generation)`) +
      `; load average ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(" ")}`,
  );
  console.table(rows);
  for (const run of runs) {
    const v = vs(run);
    const e = ep(run);
    console.log(
      `istiod cache ${run.cache ? "on" : "off"}: start (fake clients, informers, first push) ` +
        `${fmt(run.start.cpuMs)} ms CPU; cold ${fmt(run.cold.initCpuMs)} ms proxy init + ` +
        `${fmt(run.cold.generateCpuMs)} ms generation, ${JSON.stringify(run.cold.resources)} resources ` +
        `(measured: ${fmt(run.cold.measuredCpuMs)} ms CPU); VirtualService change ${fmt(v.intake.cpuMs)} ms intake + ${fmt(v.generate.cpuMs)} ms for ` +
        `${v.proxiesPushed} proxies ${JSON.stringify(v.resources)}; endpoint change ${fmt(e.intake.cpuMs)} ms intake + ` +
        `${fmt(e.generate.cpuMs)} ms for ${e.proxiesPushed} proxies ${JSON.stringify(e.resources)}`,
    );
  }
  console.log(
    `xdskit: ${xdskit.virtualService.changed} proxies changed by the VirtualService change, ` +
      `${xdskit.endpoint.changed} by the endpoint change`,
  );
  const json = flag("json", "");
  const times = ({ wall, cpu }: { wall: number; cpu: number }) => ({ wall, cpu });
  if (json) {
    const { trials, index, cold, virtualService, endpoint } = xdskit;
    const xdskitFigures = {
      trials,
      index: times(index),
      cold: times(cold),
      coldEncoded,
      virtualService: { ...times(virtualService), changed: virtualService.changed },
      endpoint: { ...times(endpoint), changed: endpoint.changed },
    };
    writeFileSync(json, JSON.stringify({ xdskit: xdskitFigures, istiod: runs }, null, 2));
  }
}
