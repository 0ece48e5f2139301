// Envoy with a static bootstrap built from the generated types proxies real HTTP to a Node upstream.
import { Bootstrap, Cluster_DiscoveryType, HttpConnectionManager, messageToJson, packAny, Router } from "@xdskit/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EnvoyHandle, startEnvoy, validateBootstrap } from "../harness/envoy.js";
import { type HttpUpstream, type HttpUpstreamReply, startHttpUpstream } from "../harness/upstreams.js";

const HCM = "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";
const ROUTER = "envoy.extensions.filters.http.router.v3.Router";

function staticBootstrap(upstreamPort: number, routeToCluster = "reviews"): Bootstrap {
  const hcm = HttpConnectionManager.fromPartial({
    statPrefix: "ingress_http",
    routeConfig: {
      name: "local_route",
      virtualHosts: [
        {
          name: "reviews",
          domains: ["*"],
          routes: [{ match: { prefix: "/" }, route: { cluster: routeToCluster } }],
        },
      ],
    },
    httpFilters: [{ name: "envoy.filters.http.router", typedConfig: packAny(ROUTER, Router, {}) }],
  });
  return Bootstrap.fromPartial({
    node: { id: "smoke-static", cluster: "smoke" },
    staticResources: {
      listeners: [
        {
          name: "listener_http",
          address: { socketAddress: { address: "127.0.0.1", portValue: 0 } },
          filterChains: [
            {
              filters: [
                {
                  name: "envoy.filters.network.http_connection_manager",
                  typedConfig: packAny(HCM, HttpConnectionManager, hcm),
                },
              ],
            },
          ],
        },
      ],
      clusters: [
        {
          name: "reviews",
          type: Cluster_DiscoveryType.STATIC,
          connectTimeout: { seconds: 1, nanos: 0 },
          loadAssignment: {
            clusterName: "reviews",
            endpoints: [
              {
                lbEndpoints: [
                  { endpoint: { address: { socketAddress: { address: "127.0.0.1", portValue: upstreamPort } } } },
                ],
              },
            ],
          },
        },
      ],
    },
  });
}

const toJson = (b: Bootstrap) => messageToJson("envoy.config.bootstrap.v3.Bootstrap", Bootstrap, b) as object;

describe("Envoy with a static bootstrap from the generated types", () => {
  let upstream: HttpUpstream;
  let envoy: EnvoyHandle;
  let port: number;

  beforeAll(async () => {
    upstream = await startHttpUpstream({ service: "reviews", version: "v1" });
    envoy = await startEnvoy({ bootstrap: toJson(staticBootstrap(upstream.port)) });
    port = await envoy.listenerPort("listener_http");
  });

  afterAll(async () => {
    await envoy?.stop();
    await upstream?.close();
  });

  it("proxies HTTP requests to the upstream", async () => {
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`http://127.0.0.1:${port}/reviews/${i}`, { headers: { "end-user": "jason" } });
      expect(res.status).toBe(200);
      expect(res.headers.get("x-upstream")).toBe("reviews/v1");
      const body = (await res.json()) as HttpUpstreamReply;
      expect(body).toMatchObject({ service: "reviews", version: "v1", method: "GET", path: `/reviews/${i}` });
      expect(body.headers["end-user"]).toBe("jason");
      expect(body.headers["x-envoy-expected-rq-timeout-ms"]).toBeDefined();
    }
    expect(upstream.requests).toHaveLength(3);
    expect(await envoy.stat("cluster.reviews.upstream_rq_200")).toBe(3);
    const clusters = await envoy.clusters();
    const reviews = clusters.cluster_statuses?.find((c) => c.name === "reviews");
    expect(reviews?.host_statuses?.[0]?.address?.socket_address?.port_value).toBe(upstream.port);
  });

  it("shows the static listener in config_dump", async () => {
    const dump = await envoy.configDump("static_listeners");
    const names = dump.configs.map((c) => (c as { listener?: { name?: string } }).listener?.name);
    expect(names).toContain("listener_http");
  });

  it("validate mode accepts the bootstrap", async () => {
    const result = await validateBootstrap(toJson(staticBootstrap(upstream.port)));
    expect(result.output).not.toMatch(/critical|error initializing/);
    expect(result.ok).toBe(true);
  });

  it("validate mode rejects a route to an unknown cluster, naming it", async () => {
    const result = await validateBootstrap(toJson(staticBootstrap(upstream.port, "no-such-cluster")));
    expect(result.ok).toBe(false);
    expect(result.output).toContain("route: unknown cluster 'no-such-cluster'");
  });

  it("validate mode rejects an unknown field", async () => {
    const broken = { ...toJson(staticBootstrap(upstream.port)), notAField: true };
    const result = await validateBootstrap(broken);
    expect(result.ok).toBe(false);
    // protobuf's JSON parser pads its error text with random extra spaces (on purpose): match with \s+.
    expect(result.output).toMatch(/no\s+such\s+field:\s+'notAField'/);
  });
});
