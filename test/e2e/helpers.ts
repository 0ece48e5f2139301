// Shared pieces of the end-to-end suite: a REAL xdskit server (SnapshotCache + createXdsServer) that
// records what it sent and what clients answered, Envoy bootstraps for every xDS transport Envoy speaks
// (SotW/delta, ADS/per-type), resources wired to those transports, config_dump readers, and a bounded
// keep-alive HTTP load loop that counts successes and failures.
import http from "node:http";
import { type CertificateAuthority, createCertificateAuthority, workloadSecrets } from "@xdskit/certs";
import {
  ApiConfigSource_ApiType,
  ApiVersion,
  Bootstrap,
  type Cluster,
  Cluster_DiscoveryType,
  Cluster_LbPolicy,
  type ClusterLoadAssignment,
  type ConfigSource,
  createSnapshot,
  createSnapshotCache,
  HttpConnectionManager,
  type Listener,
  type NackEvent,
  packAny,
  type ResourceKind,
  type RouteConfiguration,
  resourceTypes,
  type Secret,
  type Snapshot,
  type SnapshotCache,
  type SnapshotCacheOptions,
  type SnapshotResources,
} from "@xdskit/core";
import {
  type AckInfo,
  createXdsServer,
  type NackInfo,
  type ResponseInfo,
  type StreamInfo,
  type XdsServer,
  type XdsServerOptions,
} from "@xdskit/server";
import type { EnvoyHandle } from "../harness/envoy.js";
import {
  bootstrapToJson,
  HCM_TYPE,
  loadAssignment,
  routerFilter,
  socketAddress,
  staticCluster,
} from "../harness/envoy-config.js";

// ---------------------------------------------------------------------------------------------------
// The xdskit server under test

export interface XdsUnderTest {
  readonly cache: SnapshotCache;
  readonly server: XdsServer;
  readonly port: number;
  /** "127.0.0.1:port" */
  readonly address: string;
  /** Everything the server reported through its callbacks, oldest first. */
  readonly streams: StreamInfo[];
  readonly responses: ResponseInfo[];
  readonly acks: AckInfo[];
  readonly nacks: NackInfo[];
  /** What the cache's onNack option saw. */
  readonly cacheNacks: NackEvent[];
  /** Builds a snapshot from `resources` and sets it for `key` (the node id with the default nodeHash). */
  set(key: string, resources: SnapshotResources): Snapshot;
  /** Responses sent to `nodeId`, optionally of one kind only. */
  responsesTo(nodeId: string, kind?: ResourceKind): ResponseInfo[];
  close(): Promise<void>;
}

export interface StartXdsOptions {
  ordering?: XdsServerOptions["ordering"];
  ackGateTimeoutMs?: number;
  cache?: SnapshotCacheOptions;
}

/** A real xdskit server on 127.0.0.1:0 over a SnapshotCache keyed by node id. */
export async function startXds(options: StartXdsOptions = {}): Promise<XdsUnderTest> {
  const cacheNacks: NackEvent[] = [];
  const cache = createSnapshotCache({
    ...options.cache,
    onNack: (event, c) => {
      cacheNacks.push(event);
      options.cache?.onNack?.(event, c);
    },
  });
  const streams: StreamInfo[] = [];
  const responses: ResponseInfo[] = [];
  const acks: AckInfo[] = [];
  const nacks: NackInfo[] = [];
  const server = createXdsServer({
    cache,
    ...(options.ordering ? { ordering: options.ordering } : {}),
    ...(options.ackGateTimeoutMs ? { ackGateTimeoutMs: options.ackGateTimeoutMs } : {}),
    callbacks: {
      onStreamOpen: (info) => void streams.push(info),
      onResponse: (info) => void responses.push(info),
      onAck: (info) => void acks.push(info),
      onNack: (info) => void nacks.push(info),
    },
  });
  const port = await server.listen("127.0.0.1:0");
  return {
    cache,
    server,
    port,
    address: `127.0.0.1:${port}`,
    streams,
    responses,
    acks,
    nacks,
    cacheNacks,
    set(key, resources) {
      const snapshot = createSnapshot({ resources });
      cache.setSnapshot(key, snapshot);
      return snapshot;
    },
    responsesTo: (nodeId, kind) =>
      responses.filter(
        (r) => r.node.id === nodeId && (kind === undefined || r.typeUrl === resourceTypes[kind].typeUrl),
      ),
    async close() {
      await server.close({ graceMs: 500 });
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// Envoy over each xDS transport

/**
 * How Envoy talks to xdskit: one aggregated stream (SotW or delta), or one stream per type through the
 * per-type services (ListenerDiscoveryService/StreamListeners, ... or their Delta* methods).
 */
export type XdsTransport = "ads-sotw" | "ads-delta" | "per-type-sotw" | "per-type-delta";

export const XDS_CLUSTER = "xds_cluster";

/** The config source the dynamic resources name (EDS in clusters, RDS in listeners) for a transport. */
export function configSourceFor(transport: XdsTransport): ConfigSource {
  if (transport === "ads-sotw" || transport === "ads-delta") return { ads: {}, resourceApiVersion: ApiVersion.V3 };
  return {
    apiConfigSource: {
      apiType: transport === "per-type-delta" ? ApiConfigSource_ApiType.DELTA_GRPC : ApiConfigSource_ApiType.GRPC,
      transportApiVersion: ApiVersion.V3,
      grpcServices: [{ envoyGrpc: { clusterName: XDS_CLUSTER } }],
    },
    resourceApiVersion: ApiVersion.V3,
  };
}

/** An Envoy bootstrap (proto3 JSON) getting LDS and CDS, and through them RDS and EDS, from xdskit. */
export function envoyBootstrap(options: { transport: XdsTransport; xdsPort: number; nodeId: string }): object {
  const { transport } = options;
  const ads = transport === "ads-sotw" || transport === "ads-delta";
  return bootstrapToJson(
    Bootstrap.fromPartial({
      node: { id: options.nodeId, cluster: "xdskit-e2e" },
      dynamicResources: {
        ...(ads
          ? {
              adsConfig: {
                apiType: transport === "ads-delta" ? ApiConfigSource_ApiType.DELTA_GRPC : ApiConfigSource_ApiType.GRPC,
                transportApiVersion: ApiVersion.V3,
                grpcServices: [{ envoyGrpc: { clusterName: XDS_CLUSTER } }],
              },
            }
          : {}),
        ldsConfig: configSourceFor(transport),
        cdsConfig: configSourceFor(transport),
      },
      staticResources: {
        clusters: [staticCluster(XDS_CLUSTER, [{ host: "127.0.0.1", port: options.xdsPort }], { http2: true })],
      },
    }),
  );
}

/** An EDS cluster whose endpoints come over `transport`. */
export function edsClusterVia(name: string, transport: XdsTransport): Cluster {
  return {
    name,
    type: Cluster_DiscoveryType.EDS,
    connectTimeout: { seconds: 1, nanos: 0 },
    lbPolicy: Cluster_LbPolicy.ROUND_ROBIN,
    edsClusterConfig: { edsConfig: configSourceFor(transport) },
  };
}

/**
 * An HTTP listener on 127.0.0.1:0 whose route configuration `routeName` comes over `transport` (RDS);
 * `options` override fields of its connection manager.
 */
export function httpListenerVia(
  name: string,
  routeName: string,
  transport: XdsTransport,
  options: Partial<HttpConnectionManager> = {},
): Listener {
  const hcm = HttpConnectionManager.fromPartial({
    statPrefix: name,
    rds: { configSource: configSourceFor(transport), routeConfigName: routeName },
    httpFilters: [routerFilter()],
    ...options,
  });
  return {
    name,
    address: socketAddress("127.0.0.1", 0),
    filterChains: [
      {
        filters: [
          {
            name: "envoy.filters.network.http_connection_manager",
            typedConfig: packAny(HCM_TYPE, HttpConnectionManager, hcm),
          },
        ],
      },
    ],
  };
}

/** Endpoints of a cluster: one upstream on 127.0.0.1. */
export function endpointsOf(clusterName: string, port: number): ClusterLoadAssignment {
  return loadAssignment(clusterName, [{ host: "127.0.0.1", port }]);
}

/** The routes of a virtual host. */
export type Routes = NonNullable<NonNullable<RouteConfiguration["virtualHosts"]>[number]["routes"]>;

/** A route configuration with one catch-all virtual host holding `routes`. */
export function routeConfig(name: string, routes: Routes): RouteConfiguration {
  return { name, virtualHosts: [{ name: "all", domains: ["*"], routes }] };
}

/** A route configuration sending everything under "/" to one cluster. */
export function routeAllTo(name: string, cluster: string): RouteConfiguration {
  return routeConfig(name, [{ match: { prefix: "/" }, route: { cluster } }]);
}

// ---------------------------------------------------------------------------------------------------
// Reading Envoy's /config_dump

/** Versions Envoy reports in /config_dump: per type (the type's last update) and per resource. */
export interface DumpedVersions {
  /** ClustersConfigDump.version_info / ListenersConfigDump.version_info (the last CDS/LDS update). */
  cds?: string;
  lds?: string;
  clusters: Record<string, string>;
  warmingClusters: string[];
  listeners: Record<string, string>;
  warmingListeners: string[];
  routes: Record<string, string>;
  endpoints: Record<string, string>;
}

type Json = Record<string, unknown>;
const arr = (value: unknown): Json[] => (Array.isArray(value) ? (value as Json[]) : []);
const obj = (value: unknown): Json => (value && typeof value === "object" ? (value as Json) : {});
const str = (value: unknown): string => (typeof value === "string" ? value : "");

/** Reads every dynamic resource's version from Envoy's config_dump (EDS included). */
export async function dumpedVersions(envoy: EnvoyHandle): Promise<DumpedVersions> {
  const dump = await envoy.configDump({ includeEds: true });
  const out: DumpedVersions = {
    clusters: {},
    warmingClusters: [],
    listeners: {},
    warmingListeners: [],
    routes: {},
    endpoints: {},
  };
  for (const config of dump.configs) {
    const type = config["@type"];
    if (type.endsWith("ClustersConfigDump")) {
      if (config.version_info !== undefined) out.cds = str(config.version_info);
      for (const c of arr(config.dynamic_active_clusters)) out.clusters[str(obj(c.cluster).name)] = str(c.version_info);
      for (const c of arr(config.dynamic_warming_clusters)) out.warmingClusters.push(str(obj(c.cluster).name));
    } else if (type.endsWith("ListenersConfigDump")) {
      if (config.version_info !== undefined) out.lds = str(config.version_info);
      for (const l of arr(config.dynamic_listeners)) {
        const active = obj(l.active_state);
        if (l.active_state) out.listeners[str(l.name)] = str(active.version_info);
        if (l.warming_state) out.warmingListeners.push(str(l.name));
      }
    } else if (type.endsWith("RoutesConfigDump")) {
      for (const r of arr(config.dynamic_route_configs))
        out.routes[str(obj(r.route_config).name)] = str(r.version_info);
    } else if (type.endsWith("EndpointsConfigDump")) {
      for (const e of arr(config.dynamic_endpoint_configs))
        out.endpoints[str(obj(e.endpoint_config).cluster_name)] = str(e.version_info);
    }
  }
  return out;
}

/** A route configuration as Envoy holds it now (proto3 JSON, snake_case), or undefined. */
export async function dumpedRoute(envoy: EnvoyHandle, name: string): Promise<Json | undefined> {
  const dump = await envoy.configDump("dynamic_route_configs");
  return dump.configs.map((c) => obj(c.route_config)).find((r) => r.name === name);
}

// ---------------------------------------------------------------------------------------------------
// HTTP through Envoy

export interface HttpReply {
  status: number;
  /** `x-upstream` of the answering Node upstream ("reviews/v1"), or "" when Envoy answered itself. */
  upstream: string;
  body: string;
}

let getAgent: http.Agent | undefined;

/** One GET with a 2 s timeout on a shared keep-alive agent; network errors reject. */
export function httpGet(url: string, headers: Record<string, string> = {}, agent?: http.Agent): Promise<HttpReply> {
  getAgent ??= new http.Agent({ keepAlive: true, maxSockets: 8 });
  return new Promise<HttpReply>((resolve, reject) => {
    const req = http.get(url, { headers, agent: agent ?? getAgent, timeout: 2000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          upstream: str(res.headers["x-upstream"]),
          body: Buffer.concat(chunks).toString("utf8"),
        }),
      );
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${url}: timed out after 2000 ms`)));
    req.on("error", reject);
  });
}

/** Closes the keep-alive connections of {@link httpGet}'s shared agent (call in afterAll). */
export function closeHttpAgent(): void {
  getAgent?.destroy();
  getAgent = undefined;
}

/** `n` GETs one after the other; "service/version" (or "status:<code>" / "error") → count. */
export async function tallyGets(url: string, n: number, headers: Record<string, string> = {}) {
  const tally: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    let key: string;
    try {
      const reply = await httpGet(url, headers);
      key = reply.status === 200 ? reply.upstream : `status:${reply.status}`;
    } catch {
      key = "error";
    }
    tally[key] = (tally[key] ?? 0) + 1;
  }
  return tally;
}

export interface SteadyTrafficOptions {
  /** Pause between the requests of one worker; default 5 ms. */
  intervalMs?: number;
  /** How long the loop runs; default 2000 ms. */
  durationMs?: number;
  /** Parallel workers, each with its own keep-alive connection; default 1. */
  concurrency?: number;
  /** Hard cap on requests over all workers; default 20000. */
  maxRequests?: number;
  /** Timeout of one request; default 1000 ms. */
  requestTimeoutMs?: number;
  headers?: Record<string, string>;
}

export interface TrafficSample {
  /** Milliseconds since the loop started. */
  at: number;
  /** HTTP status, 0 for a network error or timeout. */
  status: number;
  upstream: string;
  /** First 200 characters of a failed request's body or error message. */
  detail?: string;
}

export interface TrafficResult {
  sent: number;
  ok: number;
  failed: number;
  /** "200" → count, "503" → count, "error" → count. */
  statuses: Record<string, number>;
  /** x-upstream of successful answers → count. */
  upstreams: Record<string, number>;
  /** Every request in completion order (bounded by maxRequests). */
  samples: TrafficSample[];
  /** The failed samples (for assertion messages). */
  failures: TrafficSample[];
  elapsedMs: number;
}

/**
 * Keep-alive HTTP GETs against `url` every `intervalMs` per worker for `durationMs` (bounded by
 * `maxRequests`), counting successes (HTTP 200) and failures (any other status, network errors, timeouts).
 */
export async function steadyTraffic(url: string, options: SteadyTrafficOptions = {}): Promise<TrafficResult> {
  const intervalMs = options.intervalMs ?? 5;
  const durationMs = options.durationMs ?? 2000;
  const concurrency = options.concurrency ?? 1;
  const maxRequests = options.maxRequests ?? 20_000;
  const requestTimeoutMs = options.requestTimeoutMs ?? 1000;
  const started = Date.now();
  const deadline = started + durationMs;
  const result: TrafficResult = {
    sent: 0,
    ok: 0,
    failed: 0,
    statuses: {},
    upstreams: {},
    samples: [],
    failures: [],
    elapsedMs: 0,
  };
  const record = (sample: TrafficSample) => {
    result.samples.push(sample);
    const key = sample.status === 0 ? "error" : String(sample.status);
    result.statuses[key] = (result.statuses[key] ?? 0) + 1;
    if (sample.status === 200) {
      result.ok++;
      result.upstreams[sample.upstream] = (result.upstreams[sample.upstream] ?? 0) + 1;
    } else {
      result.failed++;
      result.failures.push(sample);
    }
  };
  const one = (agent: http.Agent) =>
    new Promise<void>((resolve) => {
      const req = http.get(url, { agent, headers: options.headers ?? {}, timeout: requestTimeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => {
          const status = res.statusCode ?? 0;
          record({
            at: Date.now() - started,
            status,
            upstream: str(res.headers["x-upstream"]),
            ...(status !== 200 ? { detail: Buffer.concat(chunks).toString("utf8").slice(0, 200) } : {}),
          });
          resolve();
        });
        res.on("error", (err) => {
          record({ at: Date.now() - started, status: 0, upstream: "", detail: err.message.slice(0, 200) });
          resolve();
        });
      });
      req.on("timeout", () => req.destroy(new Error(`timed out after ${requestTimeoutMs} ms`)));
      req.on("error", (err) => {
        record({ at: Date.now() - started, status: 0, upstream: "", detail: err.message.slice(0, 200) });
        resolve();
      });
    });
  const worker = async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      while (Date.now() < deadline && result.sent < maxRequests) {
        result.sent++;
        await one(agent);
        if (intervalMs > 0) await new Promise((r) => setTimeout(r, intervalMs));
      }
    } finally {
      agent.destroy();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  result.elapsedMs = Date.now() - started;
  return result;
}

/** A short description of a traffic run for assertion messages. */
export function describeTraffic(t: TrafficResult): string {
  const failures = t.failures
    .slice(0, 5)
    .map((f) => `  at ${f.at} ms: ${f.status || "network error"} ${f.detail ?? ""}`.trimEnd())
    .join("\n");
  return (
    `${t.sent} requests in ${t.elapsedMs} ms: ${JSON.stringify(t.statuses)}, upstreams ${JSON.stringify(t.upstreams)}` +
    (failures ? `\nfirst failures:\n${failures}` : "")
  );
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Envoy's `*.version_text` text readouts: `cluster_manager.cds.version_text`, `listener_manager.lds.version_text`,
 * `http.<stat_prefix>.rds.<route>.version_text`, `cluster.<name>.version_text` (EDS): the version_info (SotW)
 * or system_version_info (delta) of the last accepted update of that type or resource.
 */
export async function versionTexts(envoy: EnvoyHandle): Promise<Record<string, string>> {
  const text = await envoy.admin("/stats?filter=version_text");
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const match = /^(\S+)\.version_text: "(.*)"$/.exec(line.trim());
    if (match?.[1]) out[match[1]] = match[2] ?? "";
  }
  return out;
}

let meshCa: Promise<CertificateAuthority> | undefined;

/**
 * The mesh certificates a translated sidecar or gateway asks for over SDS (`default`, `ROOTCA`; its inbound
 * chains and auto-mTLS clusters reference them), issued by one test CA per test file for the proxy's identity.
 */
export async function meshSecrets(identity: { namespace: string; serviceAccount: string }): Promise<Secret[]> {
  meshCa ??= createCertificateAuthority();
  const ca = await meshCa;
  return workloadSecrets(await ca.issue({ namespace: identity.namespace, serviceAccount: identity.serviceAccount }));
}
