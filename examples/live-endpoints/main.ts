// Endpoints that change one by one, served from a LinearCache next to a SnapshotCache for everything
// else, muxed into one ADS server; a real Envoy follows each endpoint change with no other push.
// Run: node --conditions=source --import tsx examples/live-endpoints/main.ts
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
import { startEnvoy } from "../../test/harness/envoy.js";
import { resolveEnvoyBinary } from "../../test/harness/envoy-binary.mjs";
import { adsBootstrap, bootstrapToJson } from "../../test/harness/envoy-config.js";
import { startHttpUpstream } from "../../test/harness/upstreams.js";

const ads = { ads: {}, resourceApiVersion: ApiVersion.V3 };
const endpointsAt = (port: number): ClusterLoadAssignment => ({
  clusterName: "reviews",
  endpoints: [
    { lbEndpoints: [{ endpoint: { address: { socketAddress: { address: "127.0.0.1", portValue: port } } } }] },
  ],
});

const v1 = await startHttpUpstream({ service: "reviews", version: "v1" });
const v2 = await startHttpUpstream({ service: "reviews", version: "v2" });

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

await resolveEnvoyBinary({ install: true, log: (line: string) => console.log(line) });
// The same ADS bootstrap as examples/hello-envoy, built from the generated types.
const envoy = await startEnvoy({
  bootstrap: bootstrapToJson(adsBootstrap({ adsPort: port, nodeId: "edge-1", nodeCluster: "mesh" })),
});

const version = async (url: string) => ((await (await fetch(url)).json()) as { version: string }).version;
try {
  const url = `http://127.0.0.1:${await envoy.waitFor(() => envoy.listenerPort("web"), 10_000)}/reviews`;
  await envoy.waitFor(async () => (await version(url).catch(() => "")) === "v1", 10_000);
  console.log(`before: ${url} -> reviews ${await version(url)}`);
  const before = pushes;
  endpoints.setResource(endpointsAt(v2.port)); // one endpoint change
  await envoy.waitFor(async () => (await version(url)) === "v2", 10_000);
  console.log(`after one LinearCache update: -> reviews ${await version(url)} (${pushes - before} xDS response sent)`);
} finally {
  await envoy.stop();
  await server.close({ graceMs: 1000 });
  await v1.close();
  await v2.close();
}
