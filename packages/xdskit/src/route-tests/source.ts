// Whose config the route tests run against: a proxy of a config directory (default: the gateway its
// Gateways select) or what a running control plane serves a connected proxy (default: its one gateway).
import { type JsonValue, resourceFromJson, resourceTypes } from "@xdskit/core";
import {
  buildMesh,
  type ConfigDiagnostic,
  formatConfigDiagnostic,
  generate,
  type LoadResult,
  type Mesh,
  type MeshProxy,
  proxyOf,
  resourcesFromConfigDump,
  type SimulationResources,
} from "@xdskit/translate";
import { fetchMonitoringJson } from "../monitoring/fetch-json.js";

/** A problem with where the config comes from: one line for the user. */
export class RouteTestSourceError extends Error {}

export interface TestTarget {
  readonly resources: SimulationResources;
  /** The proxy's node id, and how it was chosen. */
  readonly proxy: string;
  readonly why: string;
}

export interface ProxyChoice {
  /** namespace/workload or a node id; default: the gateway. */
  readonly proxy?: string;
  readonly type?: "sidecar" | "router" | "proxyless";
}

const fqdn = (mesh: Mesh, namespace: string) => `${namespace}.svc.${mesh.options.domainSuffix}`;

/** The default proxy of a config: the workload its Gateways select, else one made of their selector. */
function defaultProxy(mesh: Mesh, loaded: LoadResult): { proxy: MeshProxy; why: string } {
  const gateways = loaded.objects.filter((o) => o.kind === "Gateway");
  if (gateways.length === 0) {
    const id = `sidecar~127.0.0.1~xdskit-test.default~${fqdn(mesh, "default")}`;
    return {
      proxy: proxyOf(mesh, { id, metadata: { NAMESPACE: "default" } as never }),
      why: "no Gateway in the config: a sidecar in namespace default (give --proxy for another)",
    };
  }
  const selectors = new Map<string, { namespace: string; labels: Record<string, string>; names: string[] }>();
  for (const g of gateways) {
    const labels = ((g.spec as { selector?: Record<string, string> }).selector ?? {}) as Record<string, string>;
    const key = JSON.stringify(Object.entries(labels).sort());
    const entry = selectors.get(key) ?? { namespace: g.metadata.namespace, labels, names: [] };
    entry.names.push(`${g.metadata.namespace}/${g.metadata.name}`);
    selectors.set(key, entry);
  }
  const workloads = mesh.registry.workloads.filter((w) =>
    [...selectors.values()].some(
      (s) => Object.keys(s.labels).length > 0 && Object.entries(s.labels).every(([k, v]) => w.labels[k] === v),
    ),
  );
  if (workloads.length === 1) {
    const w = workloads[0] as (typeof workloads)[number];
    return {
      proxy: proxyOf(mesh, `${w.namespace}/${w.name}`, { type: "router" }),
      why: `the gateway workload ${w.namespace}/${w.name}`,
    };
  }
  if (workloads.length > 1)
    throw new RouteTestSourceError(
      `several gateway workloads (${workloads.map((w) => `${w.namespace}/${w.name}`).join(", ")}): choose one with --proxy namespace/name --type router`,
    );
  if (selectors.size > 1)
    throw new RouteTestSourceError(
      `Gateways with different selectors (${[...selectors.values()].map((s) => s.names.join(",")).join("; ")}): choose the gateway with --proxy <node id> or a workload`,
    );
  const only = [...selectors.values()][0] as { namespace: string; labels: Record<string, string>; names: string[] };
  const name = only.labels.istio ? `istio-${only.labels.istio}` : "gateway";
  const id = `router~127.0.0.1~${name}.${only.namespace}~${fqdn(mesh, only.namespace)}`;
  return {
    proxy: proxyOf(mesh, { id, metadata: { NAMESPACE: only.namespace, LABELS: only.labels } as never }),
    why: `a gateway with the labels ${Object.entries(only.labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(",")} that ${only.names.join(", ")} select${only.names.length === 1 ? "s" : ""}`,
  };
}

/** The resources one proxy of a loaded config gets; config errors go to `warn` (those objects are left out). */
export function targetOfConfig(loaded: LoadResult, choice: ProxyChoice, warn: (text: string) => void): TestTarget {
  for (const d of loaded.diagnostics.filter((x: ConfigDiagnostic) => x.severity === "error"))
    warn(`${formatConfigDiagnostic(d)} (ignored)`);
  const mesh = buildMesh(loaded.objects);
  let proxy: MeshProxy;
  let why: string;
  if (choice.proxy === undefined) ({ proxy, why } = defaultProxy(mesh, loaded));
  else if (choice.proxy.includes("~")) {
    proxy = proxyOf(mesh, { id: choice.proxy });
    why = "--proxy";
  } else {
    if (!choice.proxy.includes("/"))
      throw new RouteTestSourceError(
        `--proxy ${choice.proxy}: give namespace/workload (e.g. default/productpage-v1) or a node id`,
      );
    proxy = proxyOf(mesh, choice.proxy, { type: choice.type ?? "sidecar" });
    why = "--proxy";
  }
  const generated = generate(mesh, proxy);
  return {
    resources: {
      listeners: generated.Listener,
      routes: generated.RouteConfiguration,
      clusters: generated.Cluster,
      endpoints: generated.ClusterLoadAssignment,
    },
    proxy: proxy.id,
    why,
  };
}

const getJson = (url: string) =>
  fetchMonitoringJson(url, {
    timeoutMs: 10_000,
    flag: "--control-plane",
    fail: (message) => new RouteTestSourceError(message),
  });

const KINDS = ["Listener", "RouteConfiguration", "Cluster", "ClusterLoadAssignment"] as const;

/** A control plane's /debug/config_dump answer (xdskit's resources by kind, or an Envoy admin dump). */
export function resourcesOfDump(dump: unknown, where: string): SimulationResources {
  if (dump && typeof dump === "object" && "configs" in dump) return resourcesFromConfigDump(dump);
  const byKind = (dump as { resources?: Record<string, unknown[]> } | null)?.resources;
  if (!byKind || typeof byKind !== "object")
    throw new RouteTestSourceError(
      `${where}: expected { resources: { Listener: [...], ... } } or an Envoy config dump`,
    );
  const decoded: Record<string, unknown[]> = {};
  for (const kind of KINDS)
    decoded[kind] = (byKind[kind] ?? []).map((json, i) => {
      try {
        return resourceFromJson(resourceTypes[kind] as never, json as JsonValue);
      } catch (error) {
        throw new RouteTestSourceError(`${where}: resources.${kind}[${i}]: ${(error as Error).message}`);
      }
    });
  return {
    listeners: decoded.Listener as never,
    routes: decoded.RouteConfiguration as never,
    ...(byKind.Cluster ? { clusters: decoded.Cluster as never } : {}),
    endpoints: decoded.ClusterLoadAssignment as never,
  };
}

/** What a running control plane serves a proxy: --proxy (a node id), else its one connected gateway. */
export async function targetOfControlPlane(base: string, proxy: string | undefined): Promise<TestTarget> {
  const root = base.replace(/\/$/, "");
  let id = proxy;
  let why = "--proxy";
  if (id === undefined) {
    const statuses = (await getJson(`${root}/debug/syncz`)) as Array<{ proxy: string }>;
    const routers = (Array.isArray(statuses) ? statuses : [])
      .map((s) => s.proxy)
      .filter((p) => p.startsWith("router~"));
    if (routers.length !== 1)
      throw new RouteTestSourceError(
        routers.length === 0
          ? `${root} has no gateway connected: give --proxy <node id> (see xdskit proxy-status --monitoring ${root})`
          : `${root} has several gateways connected (${routers.join(", ")}): give --proxy <node id>`,
      );
    id = routers[0] as string;
    why = "the one gateway connected to the control plane";
  }
  const url = `${root}/debug/config_dump?proxy=${encodeURIComponent(id)}`;
  return { resources: resourcesOfDump(await getJson(url), url), proxy: id, why };
}
