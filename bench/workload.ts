// Deterministic Istio-sized workload: R EDS clusters (~1.1 KB encoded each) and their R
// ClusterLoadAssignments (~250 B each), plus the update rules every server under test applies.
//
// The workload is written once as a binary file that every server loads, so the TS servers and the
// Go peer serve the same resources:
//
//   "XBW1" | u32le headerLength | header (JSON, UTF-8) | 2R × (u32le length | encoded google.protobuf.Any)
//
// The R clusters come first, then the R ClusterLoadAssignments in the same order.
//
// CLI: node --conditions=source --import tsx bench/workload.ts --r=1000 [--out=file]
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  type Any,
  Any as AnyCodec,
  Cluster,
  ClusterLoadAssignment,
  packAny,
  packResource,
  resourceTypes,
  typeUrlOf,
} from "@xdskit/core";
import {
  ApiConfigSource_ApiType,
  ApiVersion,
  Cluster_DiscoveryType,
  Cluster_LbPolicy,
  HealthStatus,
  HttpProtocolOptions,
  UpstreamTlsContext,
} from "./lib/gen.js";

export const WORKLOAD_MAGIC = "XBW1";

/** Header of a workload file. */
export interface WorkloadHeader {
  format: 1;
  r: number;
  clusterNames: string[];
  clusterBytes: number;
  endpointBytes: number;
}

/** A loaded workload: decoded resources plus the exact bytes they were read from. */
export interface Workload {
  header: WorkloadHeader;
  clusters: Cluster[];
  endpoints: ClusterLoadAssignment[];
}

const NAMESPACES = 20;
/** Filter-metadata key holding the benchmark revision a full replace bumps. */
export const BENCH_METADATA_KEY = "bench.xdskit.io";

function pad(i: number): string {
  return String(i).padStart(5, "0");
}

function serviceOf(i: number): { svc: string; ns: string; fqdn: string } {
  const svc = `svc-${pad(i)}`;
  const ns = `ns-${i % NAMESPACES}`;
  return { svc, ns, fqdn: `${svc}.${ns}.svc.cluster.local` };
}

/** Cluster name of service i, as istiod names outbound clusters without subset. */
export function clusterName(i: number): string {
  return `outbound|9080||${serviceOf(i).fqdn}`;
}

const sdsConfig = {
  apiConfigSource: {
    apiType: ApiConfigSource_ApiType.GRPC,
    transportApiVersion: ApiVersion.V3,
    grpcServices: [{ envoyGrpc: { clusterName: "sds-grpc" } }],
    setNodeOnFirstMessageOnly: true,
  },
  initialFetchTimeout: { seconds: 0 },
  resourceApiVersion: ApiVersion.V3,
};

const httpProtocolOptions = packAny(
  "envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
  HttpProtocolOptions,
  HttpProtocolOptions.fromPartial({
    commonHttpProtocolOptions: { idleTimeout: { seconds: 3600 } },
    useDownstreamProtocolConfig: {
      httpProtocolOptions: {},
      http2ProtocolOptions: { maxConcurrentStreams: 1073741824 },
    },
  }),
);

/** `RawBuffer` is an empty message: its Any is just the type URL. */
const rawBuffer: Any = {
  typeUrl: typeUrlOf("envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer"),
  value: new Uint8Array(),
};

/** One Istio-like outbound EDS cluster (auto-mTLS through transport socket matches). */
export function makeCluster(i: number, rev = 0): Cluster {
  const { svc, ns, fqdn } = serviceOf(i);
  const name = clusterName(i);
  const tls = UpstreamTlsContext.fromPartial({
    commonTlsContext: {
      tlsCertificateSdsSecretConfigs: [{ name: "default", sdsConfig }],
      combinedValidationContext: {
        defaultValidationContext: { matchSubjectAltNames: [{ exact: `spiffe://cluster.local/ns/${ns}/sa/${svc}` }] },
        validationContextSdsSecretConfig: { name: "ROOTCA", sdsConfig },
      },
      alpnProtocols: ["istio-peer-exchange", "istio"],
    },
    sni: `outbound_.9080_._.${fqdn}`,
  });
  return Cluster.fromPartial({
    name,
    type: Cluster_DiscoveryType.EDS,
    edsClusterConfig: {
      edsConfig: { ads: {}, initialFetchTimeout: { seconds: 0 }, resourceApiVersion: ApiVersion.V3 },
      serviceName: name,
    },
    connectTimeout: { seconds: 10 },
    lbPolicy: Cluster_LbPolicy.LEAST_REQUEST,
    circuitBreakers: {
      thresholds: [
        {
          maxConnections: 4294967295,
          maxPendingRequests: 4294967295,
          maxRequests: 4294967295,
          maxRetries: 4294967295,
          trackRemaining: true,
        },
      ],
    },
    outlierDetection: {
      consecutive5xx: 5,
      interval: { seconds: 10 },
      baseEjectionTime: { seconds: 30 },
      maxEjectionPercent: 100,
      enforcingConsecutive5xx: 100,
    },
    commonLbConfig: { localityWeightedLbConfig: {} },
    typedExtensionProtocolOptions: { "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": httpProtocolOptions },
    metadata: {
      filterMetadata: {
        istio: {
          services: [{ host: fqdn, name: svc, namespace: ns }],
          default_original_port: 9080,
          config: `/apis/networking.istio.io/v1/namespaces/${ns}/destination-rule/${svc}`,
        },
        [BENCH_METADATA_KEY]: { rev: String(rev) },
      },
    },
    transportSocketMatches: [
      {
        name: "tlsMode-istio",
        match: { tlsMode: "istio" },
        transportSocket: {
          name: "envoy.transport_sockets.tls",
          typedConfig: packAny("envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext", UpstreamTlsContext, tls),
        },
      },
      {
        name: "tlsMode-disabled",
        match: {},
        transportSocket: { name: "envoy.transport_sockets.raw_buffer", typedConfig: rawBuffer },
      },
    ],
  });
}

/** Port of endpoint 0 of a ClusterLoadAssignment after update `seq` (0 = as generated). */
export function portFor(seq: number): number {
  return seq === 0 ? 9080 : 20000 + (seq % 20000);
}

/** Weight of endpoint 0 of a ClusterLoadAssignment after update `seq` (0 = as generated). */
export function weightFor(seq: number): number {
  return seq === 0 ? 1 : 1 + (seq % 100);
}

function ipOf(i: number, j: number): string {
  const n = i * 2 + j;
  return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
}

/** Endpoints of service i: one locality, two pods. `rev` changes endpoint 0 (see {@link portFor}). */
export function makeEndpoint(i: number, rev = 0): ClusterLoadAssignment {
  const lbEndpoint = (j: number) => ({
    endpoint: { address: { socketAddress: { address: ipOf(i, j), portValue: j === 0 ? portFor(rev) : 9080 } } },
    healthStatus: HealthStatus.HEALTHY,
    metadata: {
      filterMetadata: { "envoy.transport_socket_match": { tlsMode: "istio" } },
    },
    loadBalancingWeight: j === 0 ? weightFor(rev) : 1,
  });
  return ClusterLoadAssignment.fromPartial({
    clusterName: clusterName(i),
    endpoints: [
      {
        locality: { region: "us-central1", zone: `us-central1-${"abc"[i % 3]}` },
        lbEndpoints: [lbEndpoint(0), lbEndpoint(1)],
      },
    ],
  });
}

/** R clusters, deterministic. */
export function makeClusters(r: number, rev = 0): Cluster[] {
  return Array.from({ length: r }, (_, i) => makeCluster(i, rev));
}

/** R ClusterLoadAssignments at revision `version` (0 = as generated). */
export function makeEndpoints(r: number, version = 0): ClusterLoadAssignment[] {
  return Array.from({ length: r }, (_, i) => makeEndpoint(i, version));
}

// ---- update rules (the Go peer implements the same two rules in main.go) ----

/** Update kinds the control protocol accepts. */
export type UpdateKind = "one-endpoint" | "full-replace";

/** Index of the ClusterLoadAssignment a one-endpoint update `seq` changes. */
export function oneEndpointIndex(seq: number, r: number): number {
  return seq % r;
}

/** Copy of `cla` with endpoint 0 of locality 0 moved to {@link portFor}(seq), weight {@link weightFor}(seq). */
export function withEndpointRevision(cla: ClusterLoadAssignment, seq: number): ClusterLoadAssignment {
  const copy = ClusterLoadAssignment.decode(ClusterLoadAssignment.encode(cla).finish());
  const lb = copy.endpoints?.[0]?.lbEndpoints?.[0];
  const socket = lb?.endpoint?.address?.socketAddress;
  if (!lb || !socket) throw new Error(`ClusterLoadAssignment ${cla.clusterName} has no endpoint 0`);
  socket.portValue = portFor(seq);
  lb.loadBalancingWeight = weightFor(seq);
  return copy;
}

/** Copy of `cluster` with its bench revision metadata set to `seq`. */
export function withClusterRevision(cluster: Cluster, seq: number): Cluster {
  const copy = Cluster.decode(Cluster.encode(cluster).finish());
  const fm = copy.metadata?.filterMetadata;
  if (!fm) throw new Error(`Cluster ${cluster.name} has no filter metadata`);
  fm[BENCH_METADATA_KEY] = { rev: String(seq) };
  return copy;
}

/**
 * Applies update `seq` of `kind` to the current resources and returns new arrays (unchanged
 * resources are the same objects). `changed` says which types got a new version.
 */
export function applyUpdate(
  kind: UpdateKind,
  seq: number,
  clusters: readonly Cluster[],
  endpoints: readonly ClusterLoadAssignment[],
): { clusters: Cluster[]; endpoints: ClusterLoadAssignment[]; changed: { clusters: boolean; endpoints: boolean } } {
  if (kind === "one-endpoint") {
    const idx = oneEndpointIndex(seq, endpoints.length);
    const next = endpoints.slice();
    next[idx] = withEndpointRevision(endpoints[idx] as ClusterLoadAssignment, seq);
    return { clusters: clusters.slice(), endpoints: next, changed: { clusters: false, endpoints: true } };
  }
  return {
    clusters: clusters.map((c) => withClusterRevision(c, seq)),
    endpoints: endpoints.map((e) => withEndpointRevision(e, seq)),
    changed: { clusters: true, endpoints: true },
  };
}

// ---- workload file ----

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n, 0);
  return b;
}

/** Encodes the workload of size R into the file format described at the top of this file. */
export function encodeWorkload(r: number): { bytes: Buffer; header: WorkloadHeader } {
  const clusters = makeClusters(r);
  const endpoints = makeEndpoints(r, 0);
  const records: Buffer[] = [];
  let clusterBytes = 0;
  let endpointBytes = 0;
  for (const c of clusters) {
    const any = AnyCodec.encode(packResource(resourceTypes.Cluster, c)).finish();
    clusterBytes += Cluster.encode(c).finish().length;
    records.push(u32(any.length), Buffer.from(any));
  }
  for (const e of endpoints) {
    const any = AnyCodec.encode(packResource(resourceTypes.ClusterLoadAssignment, e)).finish();
    endpointBytes += ClusterLoadAssignment.encode(e).finish().length;
    records.push(u32(any.length), Buffer.from(any));
  }
  const header: WorkloadHeader = {
    format: 1,
    r,
    clusterNames: clusters.map((c) => c.name ?? ""),
    clusterBytes,
    endpointBytes,
  };
  const headerBytes = Buffer.from(JSON.stringify(header), "utf8");
  return {
    bytes: Buffer.concat([Buffer.from(WORKLOAD_MAGIC, "ascii"), u32(headerBytes.length), headerBytes, ...records]),
    header,
  };
}

/** Reads a workload file: header plus decoded resources. */
export function readWorkload(file: string): Workload {
  const buf = readFileSync(file);
  if (buf.subarray(0, 4).toString("ascii") !== WORKLOAD_MAGIC) throw new Error(`${file}: not a workload file`);
  const headerLength = buf.readUInt32LE(4);
  const header = JSON.parse(buf.subarray(8, 8 + headerLength).toString("utf8")) as WorkloadHeader;
  let pos = 8 + headerLength;
  const anys: Any[] = [];
  while (pos < buf.length) {
    const len = buf.readUInt32LE(pos);
    anys.push(AnyCodec.decode(buf.subarray(pos + 4, pos + 4 + len)));
    pos += 4 + len;
  }
  if (anys.length !== 2 * header.r) throw new Error(`${file}: ${anys.length} records, expected ${2 * header.r}`);
  const clusters: Cluster[] = [];
  const endpoints: ClusterLoadAssignment[] = [];
  for (const any of anys) {
    if (any.typeUrl === resourceTypes.Cluster.typeUrl) clusters.push(Cluster.decode(any.value ?? new Uint8Array()));
    else if (any.typeUrl === resourceTypes.ClusterLoadAssignment.typeUrl)
      endpoints.push(ClusterLoadAssignment.decode(any.value ?? new Uint8Array()));
    else throw new Error(`${file}: unexpected type ${any.typeUrl}`);
  }
  return { header, clusters, endpoints };
}

/** Reads only the header of a workload file (load clients need the cluster names, not the resources). */
export function readWorkloadHeader(file: string): WorkloadHeader {
  const buf = readFileSync(file);
  if (buf.subarray(0, 4).toString("ascii") !== WORKLOAD_MAGIC) throw new Error(`${file}: not a workload file`);
  const headerLength = buf.readUInt32LE(4);
  return JSON.parse(buf.subarray(8, 8 + headerLength).toString("utf8")) as WorkloadHeader;
}

export const benchDir = path.dirname(fileURLToPath(import.meta.url));
export const cacheDir = path.join(benchDir, ".cache");

/** Path of the workload file for size R, generating it if missing. */
export function ensureWorkload(r: number): string {
  const file = path.join(cacheDir, `workload-r${r}.bin`);
  try {
    readWorkloadHeader(file);
    return file;
  } catch {
    mkdirSync(cacheDir, { recursive: true });
    writeFileSync(file, encodeWorkload(r).bytes);
    return file;
  }
}

function main(): void {
  const args = new Map(
    process.argv.slice(2).map((a) => {
      const [k, v] = a.replace(/^--/, "").split("=");
      return [k ?? "", v ?? "true"] as const;
    }),
  );
  const r = Number(args.get("r") ?? 100);
  const { bytes, header } = encodeWorkload(r);
  const out = args.get("out") ?? path.join(cacheDir, `workload-r${r}.bin`);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, bytes);
  const c0 = Cluster.encode(makeCluster(0)).finish().length;
  const e0 = ClusterLoadAssignment.encode(makeEndpoint(0)).finish().length;
  console.log(
    `R=${r}: Cluster ${c0} B encoded (mean ${(header.clusterBytes / r).toFixed(0)} B), ` +
      `ClusterLoadAssignment ${e0} B (mean ${(header.endpointBytes / r).toFixed(0)} B); ` +
      `file ${out} (${(bytes.length / 1024).toFixed(0)} KiB)`,
  );
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
