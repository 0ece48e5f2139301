// R32 with a real client: Envoy polls LDS, RDS, CDS and EDS over REST-JSON from xdskit's REST handler.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { createSnapshotCache, type SnapshotJson, snapshotFromJson } from "@xdskit/core";
import { createRestDiscoveryHandler } from "@xdskit/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EnvoyHandle, startEnvoy } from "../harness/envoy.js";
import { type HttpUpstream, startHttpUpstream } from "../harness/upstreams.js";

const rest = {
  api_config_source: {
    api_type: "REST",
    transport_api_version: "V3",
    cluster_names: ["xds_rest"],
    refresh_delay: "0.1s",
  },
  resource_api_version: "V3",
};

function meshJson(upstreamPort: number, version: string): SnapshotJson {
  return {
    resources: {
      Listener: [
        {
          name: "rest_listener",
          address: { socket_address: { address: "127.0.0.1", port_value: 0 } },
          filter_chains: [
            {
              filters: [
                {
                  name: "envoy.filters.network.http_connection_manager",
                  typed_config: {
                    "@type":
                      "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                    stat_prefix: "rest",
                    rds: { route_config_name: "rest_route", config_source: rest },
                    http_filters: [
                      {
                        name: "router",
                        typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" },
                      },
                    ],
                  },
                },
              ],
            },
          ],
        },
      ],
      RouteConfiguration: [
        {
          name: "rest_route",
          virtual_hosts: [
            {
              name: "all",
              domains: ["*"],
              routes: [
                {
                  match: { prefix: "/" },
                  route: { cluster: "reviews" },
                  request_headers_to_add: [{ header: { key: "x-route-version", value: version } }],
                },
              ],
            },
          ],
        },
      ],
      Cluster: [{ name: "reviews", type: "EDS", connect_timeout: "1s", eds_cluster_config: { eds_config: rest } }],
      ClusterLoadAssignment: [
        {
          cluster_name: "reviews",
          endpoints: [
            {
              lb_endpoints: [
                { endpoint: { address: { socket_address: { address: "127.0.0.1", port_value: upstreamPort } } } },
              ],
            },
          ],
        },
      ],
    },
  };
}

describe("Envoy over REST-JSON discovery", () => {
  let upstream: HttpUpstream;
  let server: http.Server;
  let envoy: EnvoyHandle;
  const cache = createSnapshotCache();

  beforeAll(async () => {
    upstream = await startHttpUpstream({ service: "reviews", version: "v1" });
    cache.setSnapshot("rest-envoy", snapshotFromJson(meshJson(upstream.port, "one")));
    const handler = createRestDiscoveryHandler({ cache });
    server = http.createServer((req, res) => {
      if (!handler(req, res)) res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const restPort = (server.address() as AddressInfo).port;
    envoy = await startEnvoy({
      bootstrap: {
        node: { id: "rest-envoy", cluster: "rest" },
        dynamic_resources: { lds_config: rest, cds_config: rest },
        static_resources: {
          clusters: [
            {
              name: "xds_rest",
              type: "STATIC",
              connect_timeout: "1s",
              load_assignment: {
                cluster_name: "xds_rest",
                endpoints: [
                  {
                    lb_endpoints: [
                      { endpoint: { address: { socket_address: { address: "127.0.0.1", port_value: restPort } } } },
                    ],
                  },
                ],
              },
            },
          ],
        },
      },
    });
  });
  afterAll(async () => {
    await envoy?.stop();
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    await upstream?.close();
  });

  it("applies every type polled over REST and routes real requests; a new snapshot is picked up by polling", async () => {
    const port = await envoy.listenerPort("rest_listener");
    const get = async () => {
      const response = await fetch(`http://127.0.0.1:${port}/reviews/0`);
      return {
        status: response.status,
        body: (await response.json()) as { service: string; headers: Record<string, string> },
      };
    };
    await envoy.waitFor(async () => (await get().catch(() => undefined))?.status === 200, 10_000);
    const first = await get();
    expect(first.body.service).toBe("reviews");
    expect(first.body.headers["x-route-version"]).toBe("one");
    const dump = await envoy.configDump({ resource: "dynamic_active_clusters" });
    const version = (dump.configs.find((c) => JSON.stringify(c).includes('"reviews"')) as { version_info?: string })
      ?.version_info;
    expect(version).toBe(
      cache.getSnapshot("rest-envoy")?.versionOf("type.googleapis.com/envoy.config.cluster.v3.Cluster"),
    );

    cache.setSnapshot("rest-envoy", snapshotFromJson(meshJson(upstream.port, "two")));
    await envoy.waitFor(async () => (await get()).body.headers["x-route-version"] === "two", 10_000);
    expect((await get()).body.headers["x-route-version"]).toBe("two");
  });
});
