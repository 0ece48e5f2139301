// Mesh mTLS as istiod builds it. Client side: DestinationRule ISTIO_MUTUAL, or auto mTLS (a cluster
// speaks mTLS to endpoints whose workload has a sidecar, plaintext to the others). Server side: the
// workload's PeerAuthentication (mesh, namespace, workload, port) decides its inbound filter chains.
// The certificates are two SDS secrets, named as istiod names them: `default` (the workload's key and
// certificate chain) and `ROOTCA` (the mesh roots).
import {
  ApiConfigSource_ApiType,
  ApiVersion,
  type Cluster,
  type ConfigSource,
  DownstreamTlsContext,
  packAny,
  type TransportSocket,
  UpstreamTlsContext,
} from "@xdskit/core";
import { RawBuffer, TlsParameters_TlsProtocol } from "@xdskit/core/extensions";
import { type PeerAuthentication, PeerAuthentication_MutualTLS_Mode } from "@xdskit/core/istio";
import type { ConfigObject } from "../config/model.js";
import type { Mesh } from "../index/mesh.js";
import { selects } from "../registry/build.js";
import type { MeshService, ServiceEndpoint } from "../registry/model.js";
import { adsSource, FILTER, TYPE } from "./envoy.js";

/** SDS secret with the workload's certificate chain and key. */
export const SDS_CERTIFICATE = "default";
/** SDS secret with the mesh's root certificates. */
export const SDS_ROOT_CA = "ROOTCA";
/**
 * The label saying a workload runs a sidecar that accepts mTLS (`istio`); istiod's injector adds it to
 * Pods. Without Kubernetes, put it on the WorkloadEntry (or the Pod/Deployment objects you write).
 */
export const TLS_MODE_LABEL = "security.istio.io/tlsMode";
/** Endpoint metadata namespace Envoy reads to pick a cluster's transport socket match. */
export const TRANSPORT_SOCKET_MATCH = "envoy.transport_socket_match";

/** Istio's mTLS ALPNs a server's mTLS chain matches on (the client offers `istio`, or `istio-peer-exchange`). */
export const ISTIO_MTLS_ALPNS = ["istio", "istio-peer-exchange", "istio-http/1.0", "istio-http/1.1", "istio-h2"];

/** A workload's inbound mTLS mode on one port. */
export type MtlsMode = "STRICT" | "PERMISSIVE" | "DISABLE";

/** `spiffe://<trust domain>/ns/<namespace>/sa/<service account>`: a workload's identity in its certificate. */
export function spiffeId(trustDomain: string, namespace: string, serviceAccount: string): string {
  return `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}

/** Where the proxy fetches `default` and `ROOTCA`: its ADS stream, or istiod's local agent (`sds-grpc`). */
export function sdsConfigSource(mesh: Mesh): ConfigSource {
  if (mesh.options.sdsConfig === "ads") return adsSource();
  return {
    initialFetchTimeout: { seconds: 0, nanos: 0 },
    resourceApiVersion: ApiVersion.V3,
    apiConfigSource: {
      apiType: ApiConfigSource_ApiType.GRPC,
      setNodeOnFirstMessageOnly: true,
      transportApiVersion: ApiVersion.V3,
      grpcServices: [{ envoyGrpc: { clusterName: "sds-grpc" } }],
    },
  };
}

const modeOf = (m: PeerAuthentication_MutualTLS_Mode | undefined): MtlsMode | undefined =>
  m === PeerAuthentication_MutualTLS_Mode.STRICT
    ? "STRICT"
    : m === PeerAuthentication_MutualTLS_Mode.PERMISSIVE
      ? "PERMISSIVE"
      : m === PeerAuthentication_MutualTLS_Mode.DISABLE
        ? "DISABLE"
        : undefined;

const hasSelector = (spec: PeerAuthentication) => Object.keys(spec.selector?.matchLabels ?? {}).length > 0;

/** The oldest PeerAuthentication without a selector in `namespace` (the root namespace's is mesh-wide). */
function namespacePolicy(mesh: Mesh, namespace: string): ConfigObject<"PeerAuthentication"> | undefined {
  return mesh.peerAuthentications.find((p) => p.metadata.namespace === namespace && !hasSelector(p.spec));
}

/**
 * A workload's mTLS mode on `port` (Istio's precedence): the oldest selecting policy of its namespace, else
 * its namespace's policy, else the root namespace's; UNSET takes the parent's mode, a port-level setting of
 * the workload's policy overrides it; nothing at all is PERMISSIVE. Selectors in the root namespace select
 * nothing, as in istiod.
 */
export function workloadMtlsMode(
  mesh: Mesh,
  namespace: string,
  labels: Readonly<Record<string, string>>,
  port: number,
): MtlsMode {
  const root = mesh.options.rootNamespace;
  const meshLevel = namespacePolicy(mesh, root);
  const namespaceLevel = namespace !== root ? namespacePolicy(mesh, namespace) : undefined;
  const workloadLevel =
    namespace !== root
      ? mesh.peerAuthentications.find(
          (p) =>
            p.metadata.namespace === namespace && hasSelector(p.spec) && selects(p.spec.selector?.matchLabels, labels),
        )
      : undefined;
  let mode: MtlsMode = "PERMISSIVE";
  for (const policy of [meshLevel, namespaceLevel, workloadLevel]) mode = modeOf(policy?.spec.mtls?.mode) ?? mode;
  const portLevel = workloadLevel?.spec.portLevelMtls?.[port];
  return modeOf(portLevel?.mode) ?? mode;
}

/**
 * What a client assumes of a service's servers (istiod's best-effort guess for auto mTLS): undefined for
 * mesh-external services; DISABLE for passthrough services unless every endpoint has a sidecar; else the
 * mode of the service namespace's policy, the mesh policy's, or PERMISSIVE. Workload and port policies are
 * not looked at (a client cannot know which workload it reaches).
 */
export function serviceMtlsMode(
  mesh: Mesh,
  service: MeshService,
  port: number,
  passthrough: boolean,
): MtlsMode | undefined {
  if (service.meshExternal) return undefined;
  if (passthrough) {
    const endpoints = mesh.registry.endpointsOf(service, port);
    if (endpoints.length === 0 || endpoints.some((e) => !hasSidecar(e))) return "DISABLE";
  }
  const root = mesh.options.rootNamespace;
  return (
    modeOf(namespacePolicy(mesh, service.namespace)?.spec.mtls?.mode) ??
    modeOf(namespacePolicy(mesh, root)?.spec.mtls?.mode) ??
    "PERMISSIVE"
  );
}

export const hasSidecar = (endpoint: ServiceEndpoint) => endpoint.labels[TLS_MODE_LABEL] === "istio";

/** The SPIFFE ids of the workloads behind a service (all its ports), and a ServiceEntry's subjectAltNames; sorted. */
export function serviceAccountsOf(mesh: Mesh, service: MeshService): string[] {
  const ids = new Set<string>();
  for (const port of service.ports)
    for (const e of mesh.registry.endpointsOf(service, port.port)) {
      if (!e.serviceAccount) continue;
      const namespace = e.workload?.split("/")[1] ?? service.namespace;
      ids.add(spiffeId(mesh.options.trustDomain, namespace, e.serviceAccount));
    }
  const source = mesh.objectsByKey.get(service.source);
  if (source?.kind === "ServiceEntry") for (const san of source.spec.subjectAltNames ?? []) ids.add(san);
  return [...ids].sort();
}

/** istiod's SNI for ISTIO_MUTUAL: `outbound_.<port>_.<subset>_.<host>`. */
export function istioMutualSni(hostname: string, port: number, subset: string): string {
  return `outbound_.${port}_.${subset}_.${hostname}`;
}

/** The client side of Istio mTLS: present `default`, verify the server against `ROOTCA` and the SANs. */
export function istioMutualTransportSocket(
  mesh: Mesh,
  options: { sni: string; subjectAltNames: readonly string[]; http2: boolean },
): TransportSocket {
  const sds = sdsConfigSource(mesh);
  const context: UpstreamTlsContext = {
    commonTlsContext: {
      tlsParams: {
        tlsMinimumProtocolVersion: TlsParameters_TlsProtocol.TLSv1_2,
        tlsMaximumProtocolVersion: TlsParameters_TlsProtocol.TLSv1_3,
      },
      // `istio` tells the server's PERMISSIVE chains this is mesh mTLS; `istio-peer-exchange` as istiod sends it.
      alpnProtocols: options.http2 ? ["istio-peer-exchange", "istio", "h2"] : ["istio-peer-exchange", "istio"],
      tlsCertificateSdsSecretConfigs: [{ name: SDS_CERTIFICATE, sdsConfig: sds }],
      combinedValidationContext: {
        defaultValidationContext: {
          matchSubjectAltNames: options.subjectAltNames.map((san) => ({ exact: san })),
        },
        validationContextSdsSecretConfig: { name: SDS_ROOT_CA, sdsConfig: sds },
      },
    },
    sni: options.sni,
  };
  return { name: FILTER.tls, typedConfig: packAny(TYPE.upstreamTls, UpstreamTlsContext, context) };
}

/** Auto mTLS: endpoints labelled `tlsMode: istio` get mTLS, every other endpoint plaintext. */
export function autoMtlsMatches(socket: TransportSocket): NonNullable<Cluster["transportSocketMatches"]> {
  return [
    { name: "tlsMode-istio", match: { tlsMode: "istio" }, transportSocket: socket },
    { name: "tlsMode-disabled", match: {}, transportSocket: rawBufferSocket() },
  ];
}

export function rawBufferSocket(): TransportSocket {
  rawBuffer ??= { name: FILTER.rawBuffer, typedConfig: packAny(TYPE.rawBuffer, RawBuffer, {}) };
  return rawBuffer;
}
let rawBuffer: TransportSocket | undefined;

/** Cipher suites istiod allows on sidecar servers. */
const SERVER_CIPHERS = [
  "ECDHE-ECDSA-AES256-GCM-SHA384",
  "ECDHE-RSA-AES256-GCM-SHA384",
  "ECDHE-ECDSA-AES128-GCM-SHA256",
  "ECDHE-RSA-AES128-GCM-SHA256",
  "AES256-GCM-SHA384",
  "AES128-GCM-SHA256",
];

/** The server side: present `default`, require a client certificate signed by `ROOTCA`. */
export function inboundMtlsTransportSocket(mesh: Mesh, http: boolean): TransportSocket {
  const sds = sdsConfigSource(mesh);
  const context: DownstreamTlsContext = {
    commonTlsContext: {
      tlsParams: {
        tlsMinimumProtocolVersion: TlsParameters_TlsProtocol.TLSv1_2,
        tlsMaximumProtocolVersion: TlsParameters_TlsProtocol.TLSv1_3,
        cipherSuites: SERVER_CIPHERS,
      },
      // Never `istio` itself: it would be negotiated instead of the application protocol.
      alpnProtocols: http ? ["h2", "http/1.1"] : ["istio-peer-exchange", "h2", "http/1.1"],
      tlsCertificateSdsSecretConfigs: [{ name: SDS_CERTIFICATE, sdsConfig: sds }],
      combinedValidationContext: {
        defaultValidationContext: {},
        validationContextSdsSecretConfig: { name: SDS_ROOT_CA, sdsConfig: sds },
      },
    },
    requireClientCertificate: true,
  };
  return { name: FILTER.tls, typedConfig: packAny(TYPE.downstreamTls, DownstreamTlsContext, context) };
}

/**
 * The filter chain matches of one inbound port, as istiod lays them out: STRICT a TLS chain only;
 * PERMISSIVE a TLS chain for Istio's ALPNs and a plaintext chain (TCP ports also pass other TLS through);
 * DISABLE plaintext only. `tls`: the chain terminates mTLS.
 */
export function inboundChainMatches(
  mode: MtlsMode,
  http: boolean,
): Array<{ transportProtocol: string; applicationProtocols?: string[]; tls: boolean }> {
  switch (mode) {
    case "STRICT":
      return [{ transportProtocol: "tls", tls: true }];
    case "PERMISSIVE":
      return [
        { transportProtocol: "tls", applicationProtocols: ISTIO_MTLS_ALPNS, tls: true },
        { transportProtocol: "raw_buffer", tls: false },
        ...(http ? [] : [{ transportProtocol: "tls", tls: false }]),
      ];
    default:
      return [{ transportProtocol: "raw_buffer", tls: false }];
  }
}
