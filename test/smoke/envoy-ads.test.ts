// Envoy bootstrapped with ADS gets LDS/RDS/CDS/EDS from the static test ADS server and routes real
// HTTP requests to two Node upstreams (header match, weighted split, default).
import { resourceTypes } from "@xdskit/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EnvoyHandle, startEnvoy } from "../harness/envoy.js";
import { adsBootstrap, bootstrapToJson, edsCluster, httpListener, loadAssignment } from "../harness/envoy-config.js";
import { type StaticAds, startStaticAds } from "../harness/static-ads.js";
import { type HttpUpstream, type HttpUpstreamReply, startHttpUpstream } from "../harness/upstreams.js";

describe("Envoy over ADS from the static test server", () => {
  let v1: HttpUpstream;
  let v2: HttpUpstream;
  let ads: StaticAds;
  let envoy: EnvoyHandle;
  let port: number;

  beforeAll(async () => {
    v1 = await startHttpUpstream({ service: "reviews", version: "v1" });
    v2 = await startHttpUpstream({ service: "reviews", version: "v2" });
    ads = await startStaticAds({
      resources: {
        Listener: [httpListener({ name: "listener_http", rdsName: "local_route" })],
        RouteConfiguration: [
          {
            name: "local_route",
            virtualHosts: [
              {
                name: "reviews",
                domains: ["*"],
                routes: [
                  {
                    match: { prefix: "/", headers: [{ name: "end-user", stringMatch: { exact: "jason" } }] },
                    route: { cluster: "reviews-v2" },
                  },
                  {
                    match: { prefix: "/split" },
                    route: {
                      weightedClusters: {
                        clusters: [
                          { name: "reviews-v1", weight: 50 },
                          { name: "reviews-v2", weight: 50 },
                        ],
                      },
                    },
                  },
                  { match: { prefix: "/" }, route: { cluster: "reviews-v1" } },
                ],
              },
            ],
          },
        ],
        Cluster: [edsCluster("reviews-v1"), edsCluster("reviews-v2")],
        ClusterLoadAssignment: [
          loadAssignment("reviews-v1", [{ host: "127.0.0.1", port: v1.port }]),
          loadAssignment("reviews-v2", [{ host: "127.0.0.1", port: v2.port }]),
        ],
      },
    });
    envoy = await startEnvoy({ bootstrap: bootstrapToJson(adsBootstrap({ adsPort: ads.port, nodeId: "smoke-ads" })) });
    port = await envoy.waitFor(() => envoy.listenerPort("listener_http"), 5000);
  });

  afterAll(async () => {
    await envoy?.stop();
    await ads?.close();
    await v1?.close();
    await v2?.close();
  });

  const get = async (path: string, headers: Record<string, string> = {}): Promise<HttpUpstreamReply> => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers });
    expect(res.status).toBe(200);
    return (await res.json()) as HttpUpstreamReply;
  };

  it("routes by default to reviews v1", async () => {
    for (let i = 0; i < 3; i++) expect(await get("/reviews")).toMatchObject({ service: "reviews", version: "v1" });
    expect(v1.requests.length).toBeGreaterThanOrEqual(3);
  });

  it("routes end-user: jason to reviews v2", async () => {
    const body = await get("/reviews", { "end-user": "jason" });
    expect(body).toMatchObject({ service: "reviews", version: "v2", path: "/reviews" });
    expect(body.headers["end-user"]).toBe("jason");
  });

  it("splits /split between v1 and v2", async () => {
    const seen: Record<string, number> = {};
    for (let i = 0; i < 40; i++) {
      const { version } = await get("/split");
      seen[version] = (seen[version] ?? 0) + 1;
    }
    expect(Object.keys(seen).sort()).toEqual(["v1", "v2"]);
    expect((seen.v1 ?? 0) + (seen.v2 ?? 0)).toBe(40);
  });

  it("config_dump shows the dynamic listener, route and clusters (with EDS endpoints)", async () => {
    const listeners = await envoy.configDump("dynamic_listeners");
    expect(listeners.configs.map((c) => c.name)).toEqual(["listener_http"]);
    const routes = await envoy.configDump("dynamic_route_configs");
    expect(routes.configs.map((c) => (c.route_config as { name: string }).name)).toEqual(["local_route"]);
    const clusters = await envoy.configDump("dynamic_active_clusters");
    expect(clusters.configs.map((c) => (c.cluster as { name: string }).name).sort()).toEqual([
      "reviews-v1",
      "reviews-v2",
    ]);
    const endpoints = await envoy.configDump({ resource: "dynamic_endpoint_configs", includeEds: true });
    const ports = endpoints.configs.map((c) => {
      const cla = c.endpoint_config as {
        cluster_name: string;
        endpoints: Array<{
          lb_endpoints: Array<{ endpoint: { address: { socket_address: { port_value: number } } } }>;
        }>;
      };
      return [cla.cluster_name, cla.endpoints[0]?.lb_endpoints[0]?.endpoint.address.socket_address.port_value];
    });
    expect(Object.fromEntries(ports)).toEqual({ "reviews-v1": v1.port, "reviews-v2": v2.port });
  });

  it("Envoy ACKed every type over one ADS stream and NACKed nothing", () => {
    expect(ads.nacks).toEqual([]);
    for (const type of [
      resourceTypes.Listener,
      resourceTypes.RouteConfiguration,
      resourceTypes.Cluster,
      resourceTypes.ClusterLoadAssignment,
    ]) {
      expect(ads.acks(type.typeUrl).length, type.service).toBeGreaterThanOrEqual(1);
    }
    expect(new Set(ads.requests.map((r) => r.stream))).toEqual(new Set([1]));
    expect(ads.requests[0]?.nodeId).toBe("smoke-ads");
  });
});
