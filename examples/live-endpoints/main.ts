// Endpoints that change one by one, served from a LinearCache next to a SnapshotCache for everything
// else, muxed into one ADS server; a real Envoy follows each endpoint change with no other push.
// Run: node --conditions=source --import tsx examples/live-endpoints/main.ts
import http from "node:http";
import type { AddressInfo } from "node:net";
import {
  ApiVersion,
  Cluster_DiscoveryType,
  type ClusterLoadAssignment,
  createLinearCache,
  createMuxCache,
  createSnapshot,
  createSnapshotCache,
  HttpConnectionManager,
  packAny,
  Router,
  resourceTypes,
} from "@xdskit/core";
import { createXdsServer } from "@xdskit/server";
// The small Envoy launcher of examples/hello-envoy (xdskit publishes none yet).
import { startEnvoy } from "../hello-envoy/envoy.js";

const ads = { ads: {}, resourceApiVersion: ApiVersion.V3 };
const endpointsAt = (port: number): ClusterLoadAssignment => ({
  clusterName: "reviews",
  endpoints: [
    { lbEndpoints: [{ endpoint: { address: { socketAddress: { address: "127.0.0.1", portValue: port } } } }] },
  ],
});

/** An HTTP upstream on a free loopback port that answers with its version: { "version": "v1" }. */
async function startUpstream(version: string) {
  const server = http.createServer((_req, res) => res.end(JSON.stringify({ version })));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { port: (server.address() as AddressInfo).port, close: () => server.close() };
}

/** Polls `check` until it holds (Envoy applies configuration asynchronously). */
async function until(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`not true within ${timeoutMs} ms: ${check}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const v1 = await startUpstream("v1");
const v2 = await startUpstream("v2");

// Listeners, routes and clusters change rarely: one snapshot for every node ("mesh").
const snapshots = createSnapshotCache({ nodeHash: () => "mesh" });
const hcm = HttpConnectionManager.fromPartial({
  statPrefix: "web",
  rds: { routeConfigName: "web", configSource: ads },
  httpFilters: [{ name: "router", typedConfig: packAny("envoy.extensions.filters.http.router.v3.Router", Router, {}) }],
});
snapshots.setSnapshot(
  "mesh",
  createSnapshot({
    resources: {
      Listener: [
        {
          name: "web",
          address: { socketAddress: { address: "127.0.0.1", portValue: 0 } },
          filterChains: [
            {
              filters: [
                {
                  name: "hcm",
                  typedConfig: packAny(
                    "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                    HttpConnectionManager,
                    hcm,
                  ),
                },
              ],
            },
          ],
        },
      ],
      RouteConfiguration: [
        {
          name: "web",
          virtualHosts: [
            { name: "all", domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: "reviews" } }] },
          ],
        },
      ],
      Cluster: [
        {
          name: "reviews",
          type: Cluster_DiscoveryType.EDS,
          connectTimeout: { seconds: 1, nanos: 0 },
          edsClusterConfig: { edsConfig: ads },
        },
      ],
    },
  }),
);
// Endpoints change all the time: a LinearCache, where one change costs work for that name only.
const endpoints = createLinearCache(resourceTypes.ClusterLoadAssignment, { resources: [endpointsAt(v1.port)] });
const cache = createMuxCache({
  caches: {
    [resourceTypes.Listener.typeUrl]: snapshots,
    [resourceTypes.RouteConfiguration.typeUrl]: snapshots,
    [resourceTypes.Cluster.typeUrl]: snapshots,
    [resourceTypes.ClusterLoadAssignment.typeUrl]: endpoints,
  },
});
let pushes = 0;
const server = createXdsServer({ cache, callbacks: { onResponse: () => void pushes++ } });
const port = await server.listen("127.0.0.1:0");

// The same ADS bootstrap as examples/hello-envoy (see docs/envoy.md).
const envoy = await startEnvoy(`
node: { id: edge-1, cluster: mesh }
dynamic_resources:
  ads_config: { api_type: GRPC, transport_api_version: V3, grpc_services: [{ envoy_grpc: { cluster_name: xds } }] }
  lds_config: { ads: {}, resource_api_version: V3 }
  cds_config: { ads: {}, resource_api_version: V3 }
static_resources:
  clusters:
  - name: xds
    type: STATIC
    connect_timeout: 1s
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config: { http2_protocol_options: {} }
    load_assignment:
      cluster_name: xds
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${port} } } } }] }]
`);

const version = async (url: string) => ((await (await fetch(url)).json()) as { version: string }).version;
try {
  let listenerPort = 0;
  await until(async () => {
    listenerPort = await envoy.listenerPort("web");
    return true;
  });
  const url = `http://127.0.0.1:${listenerPort}/reviews`;
  await until(async () => (await version(url)) === "v1");
  console.log(`before: ${url} -> reviews ${await version(url)}`);
  const before = pushes;
  endpoints.setResource(endpointsAt(v2.port)); // one endpoint change
  await until(async () => (await version(url)) === "v2");
  console.log(`after one LinearCache update: -> reviews ${await version(url)} (${pushes - before} xDS response sent)`);
} finally {
  await envoy.stop();
  await server.close({ graceMs: 1000 });
  v1.close();
  v2.close();
}
