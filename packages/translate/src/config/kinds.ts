// The kinds translate reads: which API group and versions each belongs to, and for Istio kinds which
// generated message decodes its spec.
import type { MessageCodec } from "@xdskit/core";
import {
  AuthorizationPolicy,
  DestinationRule,
  Gateway,
  PeerAuthentication,
  RequestAuthentication,
  ServiceEntry,
  Sidecar,
  VirtualService,
  WorkloadEntry,
  WorkloadGroup,
} from "@xdskit/core/istio";
import type { ConfigKind } from "./model.js";

export interface KindInfo {
  readonly kind: ConfigKind;
  /** API group; "" is Kubernetes' core group. */
  readonly group: string;
  readonly versions: readonly string[];
  /** Istio kinds: the protobuf message of the spec and its codec. */
  readonly spec?: { readonly messageName: string; readonly codec: MessageCodec<unknown> };
  /** Kubernetes kinds whose data sits beside metadata rather than under `spec`. */
  readonly bodyIsSpec?: boolean;
  /** Cluster-scoped kinds have no namespace. */
  readonly clusterScoped?: boolean;
}

const NETWORKING = "networking.istio.io";
const SECURITY = "security.istio.io";
const NETWORKING_VERSIONS = ["v1alpha3", "v1beta1", "v1"];
const SECURITY_VERSIONS = ["v1beta1", "v1"];

function istio(
  kind: ConfigKind,
  group: string,
  versions: string[],
  pkg: string,
  codec: MessageCodec<unknown>,
): KindInfo {
  return { kind, group, versions, spec: { messageName: `${pkg}.${kind}`, codec } };
}

export const kindInfos: readonly KindInfo[] = [
  istio("VirtualService", NETWORKING, NETWORKING_VERSIONS, "istio.networking.v1alpha3", VirtualService),
  istio("DestinationRule", NETWORKING, NETWORKING_VERSIONS, "istio.networking.v1alpha3", DestinationRule),
  istio("Gateway", NETWORKING, NETWORKING_VERSIONS, "istio.networking.v1alpha3", Gateway),
  istio("ServiceEntry", NETWORKING, NETWORKING_VERSIONS, "istio.networking.v1alpha3", ServiceEntry),
  istio("WorkloadEntry", NETWORKING, NETWORKING_VERSIONS, "istio.networking.v1alpha3", WorkloadEntry),
  istio("WorkloadGroup", NETWORKING, NETWORKING_VERSIONS, "istio.networking.v1alpha3", WorkloadGroup),
  istio("Sidecar", NETWORKING, NETWORKING_VERSIONS, "istio.networking.v1alpha3", Sidecar),
  istio("PeerAuthentication", SECURITY, SECURITY_VERSIONS, "istio.security.v1beta1", PeerAuthentication),
  istio("AuthorizationPolicy", SECURITY, SECURITY_VERSIONS, "istio.security.v1beta1", AuthorizationPolicy),
  istio("RequestAuthentication", SECURITY, SECURITY_VERSIONS, "istio.security.v1beta1", RequestAuthentication),
  { kind: "Service", group: "", versions: ["v1"] },
  { kind: "Endpoints", group: "", versions: ["v1"], bodyIsSpec: true },
  { kind: "Pod", group: "", versions: ["v1"] },
  { kind: "ServiceAccount", group: "", versions: ["v1"], bodyIsSpec: true },
  { kind: "Secret", group: "", versions: ["v1"], bodyIsSpec: true },
  { kind: "Namespace", group: "", versions: ["v1"], clusterScoped: true },
  { kind: "EndpointSlice", group: "discovery.k8s.io", versions: ["v1"], bodyIsSpec: true },
  { kind: "Deployment", group: "apps", versions: ["v1"] },
];

const byGroupAndKind = new Map(kindInfos.map((info) => [`${info.group}/${info.kind}`, info]));

/** Splits `group/version` (or a bare core `version`). */
export function parseApiVersion(apiVersion: string): { group: string; version: string } {
  const slash = apiVersion.lastIndexOf("/");
  return slash < 0
    ? { group: "", version: apiVersion }
    : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

/** The kind's info, or undefined for a kind translate does not read. Versions are checked by the caller. */
export function kindInfoOf(group: string, kind: string): KindInfo | undefined {
  return byGroupAndKind.get(`${group}/${kind}`);
}
