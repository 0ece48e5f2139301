// Clusters as istiod builds them: one per service port (`outbound|9080||reviews.default.svc.cluster.local`)
// and one per DestinationRule subset (`outbound|9080|v1|...`), the DestinationRule's traffic policy merged
// (port-level settings over the rule's, a subset's over both, field by field), plus the fixed
// BlackHoleCluster / PassthroughCluster and the inbound clusters of the proxy's own ports.
import {
  type Cluster,
  Cluster_DiscoveryType,
  Cluster_DnsLookupFamily,
  Cluster_LbPolicy,
  type ClusterLoadAssignment,
  HttpProtocolOptions,
  packAny,
  UpstreamTlsContext,
} from "@xdskit/core";
import {
  type ClientTLSSettings,
  ClientTLSSettings_TLSmode,
  type ConnectionPoolSettings,
  type LoadBalancerSettings,
  LoadBalancerSettings_SimpleLB,
  type OutlierDetection,
  type Subset,
  type TrafficPolicy,
} from "@xdskit/core/istio";
import type { MergedDestinationRule, Mesh } from "../index/mesh.js";
import type { MeshService, ServiceEndpoint, ServicePort } from "../registry/model.js";
import { isHttp2Protocol, isHttpProtocol } from "../registry/protocol.js";
import { adsSource, FILTER, seconds, socketAddress, TYPE } from "./envoy.js";
import {
  autoMtlsMatches,
  hasSidecar,
  istioMutualSni,
  istioMutualTransportSocket,
  serviceMtlsMode,
  TRANSPORT_SOCKET_MATCH,
} from "./mtls.js";

const MAX_UINT32 = 4294967295;

/** `outbound|<port>|<subset>|<host>`: istiod's cluster name, also the EDS service name. */
export function outboundClusterName(hostname: string, port: number, subset = ""): string {
  return `outbound|${port}|${subset}|${hostname}`;
}

/**
 * The system's CA bundle, which verifies an upstream when a SIMPLE / MUTUAL rule names no caCertificates
 * (istiod's agent serves the system roots then). The path of Debian / Ubuntu, as in Istio's proxy image;
 * Envoy cannot check SANs against its built-in `system_root_certs`.
 */
export const SYSTEM_ROOT_CERTS_FILE = "/etc/ssl/certs/ca-certificates.crt";

export const BLACKHOLE = "BlackHoleCluster";
export const PASSTHROUGH = "PassthroughCluster";
export const INBOUND_PASSTHROUGH = "InboundPassthroughCluster";

/** The parts of a traffic policy that decide one cluster. */
export interface EffectivePolicy {
  readonly loadBalancer?: LoadBalancerSettings;
  readonly connectionPool?: ConnectionPoolSettings;
  readonly outlierDetection?: OutlierDetection;
  readonly tls?: ClientTLSSettings;
}

function atPort(policy: TrafficPolicy | undefined, port: number): EffectivePolicy {
  if (!policy) return {};
  const level = (policy.portLevelSettings ?? []).find((p) => p.port?.number === port);
  return {
    loadBalancer: level?.loadBalancer ?? policy.loadBalancer,
    connectionPool: level?.connectionPool ?? policy.connectionPool,
    outlierDetection: level?.outlierDetection ?? policy.outlierDetection,
    tls: level?.tls ?? policy.tls,
  };
}

/** The DestinationRule policy for one port and subset (Istio's MergeTrafficPolicy). */
export function effectivePolicy(
  rule: MergedDestinationRule | undefined,
  port: number,
  subset?: Subset,
): EffectivePolicy {
  const base = atPort(rule?.trafficPolicy, port);
  if (!subset?.trafficPolicy) return base;
  const own = atPort(subset.trafficPolicy, port);
  return {
    loadBalancer: own.loadBalancer ?? base.loadBalancer,
    connectionPool: own.connectionPool ?? base.connectionPool,
    outlierDetection: own.outlierDetection ?? base.outlierDetection,
    tls: own.tls ?? base.tls,
  };
}

/** Whether routes to this cluster hash (consistent hash load balancing): then the retry policy keeps hosts. */
export function usesConsistentHash(policy: EffectivePolicy): boolean {
  return policy.loadBalancer?.consistentHash !== undefined;
}

function discoveryOf(service: MeshService): Pick<Cluster, "type" | "lbPolicy"> {
  switch (service.resolution) {
    case "Passthrough":
      return { type: Cluster_DiscoveryType.ORIGINAL_DST, lbPolicy: Cluster_LbPolicy.CLUSTER_PROVIDED };
    case "DNS":
      return { type: Cluster_DiscoveryType.STRICT_DNS };
    case "DNSRoundRobin":
      return { type: Cluster_DiscoveryType.LOGICAL_DNS };
    default:
      return { type: Cluster_DiscoveryType.EDS };
  }
}

/**
 * What mesh mTLS needs to build a cluster: the mesh (options, PeerAuthentications) and the SPIFFE ids of the
 * service's workloads. Absent for proxyless gRPC clients, which get no mesh mTLS.
 */
export interface ClusterMtls {
  readonly mesh: Mesh;
  readonly serviceAccounts: readonly string[];
}

/** The clusters of one service port: the default one, then one per subset. */
export function outboundClusters(
  service: MeshService,
  port: ServicePort,
  rule: MergedDestinationRule | undefined,
  endpoints: readonly ServiceEndpoint[],
  mtls?: ClusterMtls,
): Cluster[] {
  const clusters: Cluster[] = [];
  const main = buildCluster(service, port, "", effectivePolicy(rule, port.port), endpoints, mtls);
  if (main) clusters.push(main);
  for (const subset of rule?.subsets ?? []) {
    if (!subset.name) continue;
    const selected = endpoints.filter((e) => matchesSubset(subset, e));
    const cluster = buildCluster(service, port, subset.name, effectivePolicy(rule, port.port, subset), selected, mtls);
    if (cluster) clusters.push(cluster);
  }
  return clusters;
}

export function matchesSubset(subset: Subset, endpoint: ServiceEndpoint): boolean {
  for (const [key, value] of Object.entries(subset.labels ?? {})) if (endpoint.labels[key] !== value) return false;
  return true;
}

function buildCluster(
  service: MeshService,
  port: ServicePort,
  subset: string,
  policy: EffectivePolicy,
  endpoints: readonly ServiceEndpoint[],
  mtls: ClusterMtls | undefined,
): Cluster | undefined {
  const name = outboundClusterName(service.hostname, port.port, subset);
  const discovery = discoveryOf(service);
  const cluster: Cluster = {
    name,
    ...discovery,
    connectTimeout: policy.connectionPool?.tcp?.connectTimeout ?? seconds(10),
    circuitBreakers: { thresholds: [thresholdsOf(policy.connectionPool)] },
  };
  if (discovery.type === Cluster_DiscoveryType.EDS) {
    cluster.edsClusterConfig = { edsConfig: adsSource(), serviceName: name };
  } else if (discovery.type !== Cluster_DiscoveryType.ORIGINAL_DST) {
    cluster.loadAssignment = inlineAssignment(name, endpoints);
    cluster.dnsLookupFamily = Cluster_DnsLookupFamily.V4_ONLY;
    cluster.respectDnsTtl = true;
  }
  if (discovery.type !== Cluster_DiscoveryType.ORIGINAL_DST) applyLoadBalancer(cluster, policy.loadBalancer);
  applyOutlierDetection(cluster, policy.outlierDetection);
  // istiod builds no STATIC / DNS cluster without endpoints (e.g. a subset no endpoint of a DNS entry has).
  if (cluster.loadAssignment && (cluster.loadAssignment.endpoints ?? []).length === 0) return undefined;
  const autoSni = isHttpProtocol(port.protocol) ? autoSniOptions(policy.tls) : {};
  let protocolOptions = httpProtocolOptions(port, policy.connectionPool);
  if (autoSni.autoSni)
    protocolOptions = {
      ...(protocolOptions ?? { explicitHttpConfig: { httpProtocolOptions: {} } }),
      upstreamHttpProtocolOptions: autoSni,
    };
  if (protocolOptions)
    cluster.typedExtensionProtocolOptions = {
      [TYPE.httpProtocolOptions]: packAny(TYPE.httpProtocolOptions, HttpProtocolOptions, protocolOptions),
    };
  const http2 = isHttp2Cluster(port, policy);
  const tls = upstreamTls(policy.tls, service, http2, mtls?.serviceAccounts ?? []);
  if (tls)
    cluster.transportSocket = { name: FILTER.tls, typedConfig: packAny(TYPE.upstreamTls, UpstreamTlsContext, tls) };
  else if (mtls) applyMeshMtls(cluster, service, port, subset, policy, mtls);
  return cluster;
}

/**
 * ISTIO_MUTUAL from the DestinationRule, or (no TLS setting) auto mTLS: mTLS to endpoints with a sidecar,
 * plaintext to the others, unless the service's namespace or the mesh DISABLEs mTLS (istiod's rules).
 */
function applyMeshMtls(
  cluster: Cluster,
  service: MeshService,
  port: ServicePort,
  subset: string,
  policy: EffectivePolicy,
  { mesh, serviceAccounts }: ClusterMtls,
): void {
  const http2 = isHttp2Cluster(port, policy);
  const sni = istioMutualSni(service.hostname, port.port, subset);
  if (policy.tls) {
    if (policy.tls.mode !== ClientTLSSettings_TLSmode.ISTIO_MUTUAL) return; // DISABLE: plaintext
    const sans = policy.tls.subjectAltNames ?? [];
    cluster.transportSocket = istioMutualTransportSocket(mesh, {
      sni: policy.tls.sni || sni,
      subjectAltNames: sans.length > 0 ? sans : serviceAccounts,
      http2,
    });
    return;
  }
  if (!mesh.options.enableAutoMtls) return;
  const passthrough = cluster.type === Cluster_DiscoveryType.ORIGINAL_DST;
  const mode = serviceMtlsMode(mesh, service, port.port, passthrough);
  if (mode === undefined || mode === "DISABLE") return;
  const socket = istioMutualTransportSocket(mesh, { sni, subjectAltNames: serviceAccounts, http2 });
  // Passthrough clusters have no endpoint metadata to match: mTLS only when every endpoint has a sidecar.
  if (passthrough) cluster.transportSocket = socket;
  else cluster.transportSocketMatches = autoMtlsMatches(socket);
}

/** Upstream HTTP/2 (advertised as ALPN h2 over TLS): an HTTP/2 port or h2 UPGRADE, unless the client's protocol is kept. */
function isHttp2Cluster(port: ServicePort, policy: EffectivePolicy): boolean {
  const http = policy.connectionPool?.http;
  return !http?.useClientProtocol && (isHttp2Protocol(port.protocol) || http?.h2UpgradePolicy === 2);
}

function thresholdsOf(pool: ConnectionPoolSettings | undefined) {
  return {
    maxConnections: pool?.tcp?.maxConnections || MAX_UINT32,
    maxPendingRequests: pool?.http?.http1MaxPendingRequests || MAX_UINT32,
    maxRequests: pool?.http?.http2MaxRequests || MAX_UINT32,
    maxRetries: pool?.http?.maxRetries || MAX_UINT32,
    trackRemaining: true,
  };
}

function applyLoadBalancer(cluster: Cluster, lb: LoadBalancerSettings | undefined): void {
  const hash = lb?.consistentHash;
  if (hash) {
    if (hash.maglev) {
      cluster.lbPolicy = Cluster_LbPolicy.MAGLEV;
      if (hash.maglev.tableSize) cluster.maglevLbConfig = { tableSize: hash.maglev.tableSize };
    } else {
      cluster.lbPolicy = Cluster_LbPolicy.RING_HASH;
      cluster.ringHashLbConfig = { minimumRingSize: hash.ringHash?.minimumRingSize || hash.minimumRingSize || 1024 };
    }
    return;
  }
  switch (lb?.simple) {
    case LoadBalancerSettings_SimpleLB.ROUND_ROBIN:
      cluster.lbPolicy = Cluster_LbPolicy.ROUND_ROBIN;
      break;
    case LoadBalancerSettings_SimpleLB.RANDOM:
      cluster.lbPolicy = Cluster_LbPolicy.RANDOM;
      break;
    case LoadBalancerSettings_SimpleLB.PASSTHROUGH:
      cluster.type = Cluster_DiscoveryType.ORIGINAL_DST;
      cluster.lbPolicy = Cluster_LbPolicy.CLUSTER_PROVIDED;
      delete cluster.edsClusterConfig;
      delete cluster.loadAssignment;
      break;
    default:
      cluster.lbPolicy = Cluster_LbPolicy.LEAST_REQUEST;
  }
}

function applyOutlierDetection(cluster: Cluster, outlier: OutlierDetection | undefined): void {
  if (!outlier) return;
  const out: NonNullable<Cluster["outlierDetection"]> = {};
  if (outlier.consecutiveErrors && outlier.consecutive5xxErrors === undefined) {
    // The deprecated field counts gateway errors only.
    out.consecutiveGatewayFailure = outlier.consecutiveErrors;
    out.enforcingConsecutiveGatewayFailure = 100;
    out.enforcingConsecutive5xx = 0;
  }
  if (outlier.consecutive5xxErrors !== undefined) {
    out.consecutive5xx = outlier.consecutive5xxErrors;
    out.enforcingConsecutive5xx = outlier.consecutive5xxErrors > 0 ? 100 : 0;
  }
  if (outlier.consecutiveGatewayErrors !== undefined) {
    out.consecutiveGatewayFailure = outlier.consecutiveGatewayErrors;
    out.enforcingConsecutiveGatewayFailure = outlier.consecutiveGatewayErrors > 0 ? 100 : 0;
  }
  if (outlier.splitExternalLocalOriginErrors) {
    out.splitExternalLocalOriginErrors = true;
    if (outlier.consecutiveLocalOriginFailures !== undefined) {
      out.consecutiveLocalOriginFailure = outlier.consecutiveLocalOriginFailures;
      out.enforcingConsecutiveLocalOriginFailure = 100;
    }
  }
  if (outlier.interval) out.interval = outlier.interval;
  if (outlier.baseEjectionTime) out.baseEjectionTime = outlier.baseEjectionTime;
  if (outlier.maxEjectionPercent) out.maxEjectionPercent = outlier.maxEjectionPercent;
  cluster.outlierDetection = out;
  cluster.commonLbConfig = { healthyPanicThreshold: { value: outlier.minHealthPercent ?? 0 } };
}

function httpProtocolOptions(
  port: ServicePort,
  pool: ConnectionPoolSettings | undefined,
): HttpProtocolOptions | undefined {
  const http = pool?.http;
  const common =
    http?.maxRequestsPerConnection || http?.idleTimeout
      ? {
          ...(http.maxRequestsPerConnection ? { maxRequestsPerConnection: http.maxRequestsPerConnection } : {}),
          ...(http.idleTimeout ? { idleTimeout: http.idleTimeout } : {}),
        }
      : undefined;
  const http2 = isHttp2Protocol(port.protocol) || http?.h2UpgradePolicy === 2; // UPGRADE
  if (!http2 && !common && !http?.useClientProtocol) return undefined;
  return {
    ...(common ? { commonHttpProtocolOptions: common } : {}),
    ...(http?.useClientProtocol
      ? { useDownstreamProtocolConfig: { httpProtocolOptions: {}, http2ProtocolOptions: {} } }
      : http2
        ? {
            explicitHttpConfig: {
              http2ProtocolOptions: http?.maxConcurrentStreams
                ? { maxConcurrentStreams: http.maxConcurrentStreams }
                : {},
            },
          }
        : {}),
  };
}

/**
 * DISABLE: none; SIMPLE: verify the server; MUTUAL: present a client certificate too (files or SDS
 * credentialName). As istiod: the SNI is the rule's only (else Envoy's auto_sni sends the Host, see
 * autoSniOptions), the server is verified against the rule's CA or the system roots unless
 * insecureSkipVerify, and a ServiceEntry's SANs (its subjectAltNames and endpoint identities) stand in for
 * a rule without subjectAltNames. SANs match any SAN type (DNS names and SPIFFE URIs alike).
 */
function upstreamTls(
  tls: ClientTLSSettings | undefined,
  service: MeshService,
  http2: boolean,
  serviceAccounts: readonly string[],
): UpstreamTlsContext | undefined {
  if (!tls) return undefined;
  const mode = tls.mode ?? ClientTLSSettings_TLSmode.DISABLE;
  if (mode !== ClientTLSSettings_TLSmode.SIMPLE && mode !== ClientTLSSettings_TLSmode.MUTUAL) return undefined;
  const sds = (name: string) => ({ name, sdsConfig: adsSource() });
  const common: NonNullable<UpstreamTlsContext["commonTlsContext"]> = {};
  const declared = tls.subjectAltNames ?? [];
  const sanList = declared.length === 0 && service.registry === "ServiceEntry" ? serviceAccounts : declared;
  const sans = sanList.length > 0 ? { matchSubjectAltNames: sanList.map((exact) => ({ exact })) } : {};
  if (tls.credentialName) {
    if (mode === ClientTLSSettings_TLSmode.MUTUAL)
      common.tlsCertificateSdsSecretConfigs = [sds(`kubernetes://${tls.credentialName}`)];
    if (!tls.insecureSkipVerify)
      common.combinedValidationContext = {
        defaultValidationContext: sans,
        validationContextSdsSecretConfig: sds(`kubernetes://${tls.credentialName}-cacert`),
      };
  } else {
    if (mode === ClientTLSSettings_TLSmode.MUTUAL && tls.clientCertificate && tls.privateKey)
      common.tlsCertificates = [
        { certificateChain: { filename: tls.clientCertificate }, privateKey: { filename: tls.privateKey } },
      ];
    if (!tls.insecureSkipVerify)
      common.validationContext = {
        trustedCa: { filename: tls.caCertificates || SYSTEM_ROOT_CERTS_FILE },
        ...sans,
      };
  }
  if (http2) common.alpnProtocols = ["h2"];
  return { commonTlsContext: common, ...(tls.sni ? { sni: tls.sni } : {}) };
}

/**
 * SIMPLE / MUTUAL without a rule `sni`: Envoy sends the request's Host as SNI (auto_sni) and, when the rule
 * lists no SANs either, checks the server certificate against it (auto_san_validation), as istiod sets up.
 */
function autoSniOptions(tls: ClientTLSSettings | undefined): { autoSni?: boolean; autoSanValidation?: boolean } {
  const mode = tls?.mode ?? ClientTLSSettings_TLSmode.DISABLE;
  if (!tls || (mode !== ClientTLSSettings_TLSmode.SIMPLE && mode !== ClientTLSSettings_TLSmode.MUTUAL)) return {};
  if (tls.sni) return {};
  const autoSanValidation = (tls.subjectAltNames ?? []).length === 0 && !tls.insecureSkipVerify;
  return { autoSni: true, ...(autoSanValidation ? { autoSanValidation: true } : {}) };
}

/** Endpoints written into the cluster (DNS clusters), grouped by locality. */
function inlineAssignment(name: string, endpoints: readonly ServiceEndpoint[]): ClusterLoadAssignment {
  return { clusterName: name, endpoints: localityGroups(endpoints) };
}

/** Endpoints grouped by locality (`region/zone/subzone`), in a stable order, with their weights. */
export function localityGroups(endpoints: readonly ServiceEndpoint[]): NonNullable<ClusterLoadAssignment["endpoints"]> {
  const groups = new Map<string, ServiceEndpoint[]>();
  for (const e of endpoints) {
    const list = groups.get(e.locality);
    if (list) list.push(e);
    else groups.set(e.locality, [e]);
  }
  return [...groups.keys()].sort().map((locality) => {
    const list = groups.get(locality) ?? [];
    const [region = "", zone = "", subZone = ""] = locality.split("/");
    return {
      // Always present, even empty, as istiod writes it (gRPC clients reject endpoints without a locality).
      locality: { region, zone, subZone },
      lbEndpoints: list.map((e) => ({
        endpoint: { address: socketAddress(e.address, e.port) },
        // Picks the cluster's mTLS transport socket (auto mTLS) for workloads with a sidecar.
        ...(hasSidecar(e) ? { metadata: { filterMetadata: { [TRANSPORT_SOCKET_MATCH]: { tlsMode: "istio" } } } } : {}),
        loadBalancingWeight: e.weight,
      })),
      loadBalancingWeight: list.reduce((sum, e) => sum + e.weight, 0),
    };
  });
}

/** The fixed clusters every sidecar gets (the same objects for every proxy and version). */
export function fixedClusters(): readonly Cluster[] {
  fixed ??= [
    {
      name: BLACKHOLE,
      type: Cluster_DiscoveryType.STATIC,
      connectTimeout: seconds(10),
      loadAssignment: { clusterName: BLACKHOLE },
    },
    {
      name: INBOUND_PASSTHROUGH,
      type: Cluster_DiscoveryType.ORIGINAL_DST,
      lbPolicy: Cluster_LbPolicy.CLUSTER_PROVIDED,
      connectTimeout: seconds(10),
      circuitBreakers: { thresholds: [thresholdsOf(undefined)] },
      upstreamBindConfig: { sourceAddress: { address: "127.0.0.6", portValue: 0 } },
    },
    {
      name: PASSTHROUGH,
      type: Cluster_DiscoveryType.ORIGINAL_DST,
      lbPolicy: Cluster_LbPolicy.CLUSTER_PROVIDED,
      connectTimeout: seconds(10),
      circuitBreakers: { thresholds: [thresholdsOf(undefined)] },
    },
  ];
  return fixed;
}
let fixed: readonly Cluster[] | undefined;

/** `inbound|<port>||`: to the application, through the original destination or a fixed endpoint. */
export function inboundCluster(port: number, endpoint?: { address: string; port: number }): Cluster {
  const name = `inbound|${port}||`;
  if (endpoint)
    return {
      name,
      type: Cluster_DiscoveryType.STATIC,
      connectTimeout: seconds(10),
      circuitBreakers: { thresholds: [thresholdsOf(undefined)] },
      loadAssignment: {
        clusterName: name,
        endpoints: [{ lbEndpoints: [{ endpoint: { address: socketAddress(endpoint.address, endpoint.port) } }] }],
      },
    };
  return {
    name,
    type: Cluster_DiscoveryType.ORIGINAL_DST,
    lbPolicy: Cluster_LbPolicy.CLUSTER_PROVIDED,
    connectTimeout: seconds(10),
    circuitBreakers: { thresholds: [thresholdsOf(undefined)] },
    upstreamBindConfig: { sourceAddress: { address: "127.0.0.6", portValue: 0 } },
  };
}

/** The load assignment of an EDS cluster: endpoints of the service port, filtered by the subset. */
export function loadAssignmentOf(clusterName: string, endpoints: readonly ServiceEndpoint[]): ClusterLoadAssignment {
  return { clusterName, endpoints: localityGroups(endpoints) };
}
