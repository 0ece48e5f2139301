// Who is asking: a proxy identified the way istiod identifies it — the node id
// `<type>~<ip>~<pod>.<namespace>~<namespace>.svc.cluster.local` and the metadata NAMESPACE, LABELS,
// SERVICE_ACCOUNT, WORKLOAD_NAME, GENERATOR — or simply a workload `namespace/name` from the registry.
import { type Node, XdsKitError } from "@xdskit/core";
import type { LoadResult } from "../config/loader.js";
import type { AnyConfigObject } from "../config/model.js";
import { asMesh, type Mesh } from "../index/mesh.js";
import type { Workload } from "../registry/model.js";

/** sidecar: an Envoy next to a workload; router: a gateway Envoy; proxyless: a gRPC client speaking xDS. */
export type ProxyType = "sidecar" | "router" | "proxyless";

export interface MeshProxy {
  /** The Envoy node id (istiod's format); generated for workloads given by name. */
  readonly id: string;
  readonly type: ProxyType;
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly serviceAccount: string;
  /** The proxy's IP addresses (first: the one in its node id). */
  readonly addresses: readonly string[];
  /** The registry's workload, when one matches. */
  readonly workload?: Workload;
}

/** Options of {@link proxyOf} for a workload given by name. */
export interface ProxyOfOptions {
  /** Default: `sidecar` (a gateway workload is still a `router` only when asked). */
  readonly type?: ProxyType;
}

type MeshInput = Mesh | LoadResult | readonly AnyConfigObject[];

/**
 * The proxy of a workload (`"default/productpage-v1"`: a Pod, Deployment or WorkloadEntry) or of an Envoy
 * node as it connects. Throws XdsKitError when a named workload is not in the registry or the node id is
 * not Istio's format and carries no NAMESPACE metadata.
 */
export function proxyOf(meshInput: MeshInput, who: string | Node, options: ProxyOfOptions = {}): MeshProxy {
  const mesh = asMesh(meshInput);
  if (typeof who === "string") return proxyOfWorkload(mesh, who, options.type ?? "sidecar");
  if (who === null || typeof who !== "object")
    throw new XdsKitError("INVALID_ARGUMENT", "proxyOf: expected a workload name (namespace/name) or an Envoy Node");
  return proxyOfNode(mesh, who);
}

function proxyOfWorkload(mesh: Mesh, name: string, type: ProxyType): MeshProxy {
  const slash = name.indexOf("/");
  if (slash <= 0 || slash === name.length - 1)
    throw new XdsKitError("INVALID_ARGUMENT", `proxyOf: "${name}" is not namespace/name`);
  const namespace = name.slice(0, slash);
  const workloadName = name.slice(slash + 1);
  const workload = mesh.registry.workload(namespace, workloadName);
  if (!workload)
    throw new XdsKitError(
      "INVALID_ARGUMENT",
      `proxyOf: no Pod, Deployment or WorkloadEntry ${namespace}/${workloadName} in the configuration`,
    );
  const ip = workload.addresses[0] ?? "127.0.0.1";
  const prefix = type === "router" ? "router" : "sidecar";
  return {
    id: `${prefix}~${ip}~${workloadName}.${namespace}~${namespace}.svc.${mesh.options.domainSuffix}`,
    type,
    namespace,
    labels: workload.labels,
    serviceAccount: workload.serviceAccount,
    addresses: workload.addresses.length > 0 ? workload.addresses : [ip],
    workload,
  };
}

function proxyOfNode(mesh: Mesh, node: Node): MeshProxy {
  const id = node.id ?? "";
  const meta = (node.metadata ?? {}) as Record<string, unknown>;
  const parts = id.split("~");
  const idType = parts.length === 4 ? parts[0] : undefined;
  const ip = parts.length === 4 ? (parts[1] ?? "") : "";
  const podAndNs = parts.length === 4 ? (parts[2] ?? "") : "";
  const dot = podAndNs.lastIndexOf(".");
  const podName = dot > 0 ? podAndNs.slice(0, dot) : podAndNs;
  const namespace =
    (typeof meta.NAMESPACE === "string" && meta.NAMESPACE) || (dot > 0 ? podAndNs.slice(dot + 1) : "") || "";
  if (!namespace)
    throw new XdsKitError(
      "INVALID_ARGUMENT",
      `proxyOf: node id "${id}" is not <type>~<ip>~<name>.<namespace>~<domain> and the node has no NAMESPACE metadata`,
    );
  const workloadName = typeof meta.WORKLOAD_NAME === "string" ? meta.WORKLOAD_NAME : undefined;
  const workload =
    (workloadName ? mesh.registry.workload(namespace, workloadName) : undefined) ??
    (podName ? mesh.registry.workload(namespace, podName) : undefined) ??
    (ip ? mesh.registry.workloads.find((w) => w.namespace === namespace && w.addresses.includes(ip)) : undefined);
  const metaLabels =
    meta.LABELS && typeof meta.LABELS === "object"
      ? Object.fromEntries(Object.entries(meta.LABELS as Record<string, unknown>).map(([k, v]) => [k, String(v)]))
      : undefined;
  const generator = typeof meta.GENERATOR === "string" ? meta.GENERATOR : "";
  const type: ProxyType =
    generator === "grpc" ? "proxyless" : idType === "router" ? "router" : idType === "sidecar" ? "sidecar" : "sidecar";
  const ips = typeof meta.INSTANCE_IPS === "string" ? meta.INSTANCE_IPS.split(",").filter(Boolean) : [];
  return {
    id,
    type,
    namespace,
    labels: metaLabels ?? workload?.labels ?? {},
    serviceAccount:
      (typeof meta.SERVICE_ACCOUNT === "string" && meta.SERVICE_ACCOUNT) || workload?.serviceAccount || "default",
    addresses: ips.length > 0 ? ips : ip ? [ip] : (workload?.addresses ?? []),
    ...(workload ? { workload } : {}),
  };
}
