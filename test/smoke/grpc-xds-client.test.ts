// A proxyless gRPC client (@grpc/grpc-js-xds, in a child process) resolves xds:/// targets through the
// static test ADS server and reaches the gRPC upstreams the xDS resources name.
import { resourceTypes } from "@xdskit/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiListener, edsCluster, loadAssignment } from "../harness/envoy-config.js";
import { runXdsClient, xdsBootstrap } from "../harness/grpc-xds-client.js";
import { type StaticAds, startStaticAds } from "../harness/static-ads.js";
import { type GrpcUpstream, startGrpcUpstream } from "../harness/upstreams.js";

describe("grpc-js-xds client against the static test ADS server", () => {
  let v1: GrpcUpstream;
  let v2: GrpcUpstream;
  let ads: StaticAds;

  beforeAll(async () => {
    v1 = await startGrpcUpstream({ service: "echo", version: "v1" });
    v2 = await startGrpcUpstream({ service: "echo", version: "v2" });
    ads = await startStaticAds({
      resources: {
        Listener: [
          // Inline route config: x-version: v2 goes to echo-v2, the rest to echo-v1.
          apiListener({
            name: "echo",
            routeConfig: {
              name: "echo-route",
              virtualHosts: [
                {
                  name: "echo",
                  domains: ["echo"],
                  routes: [
                    {
                      match: { prefix: "/", headers: [{ name: "x-version", stringMatch: { exact: "v2" } }] },
                      route: { cluster: "echo-v2" },
                    },
                    { match: { prefix: "/" }, route: { cluster: "echo-v1" } },
                  ],
                },
              ],
            },
          }),
          // RDS: a 50/50 split.
          apiListener({ name: "echo-split", rdsName: "echo-split-route" }),
        ],
        RouteConfiguration: [
          {
            name: "echo-split-route",
            virtualHosts: [
              {
                name: "echo-split",
                domains: ["*"],
                routes: [
                  {
                    match: { prefix: "/xdskit.test.Echo/" },
                    route: {
                      weightedClusters: {
                        clusters: [
                          { name: "echo-v1", weight: 50 },
                          { name: "echo-v2", weight: 50 },
                        ],
                      },
                    },
                  },
                ],
              },
            ],
          },
        ],
        Cluster: [edsCluster("echo-v1"), edsCluster("echo-v2")],
        ClusterLoadAssignment: [
          loadAssignment("echo-v1", [{ host: "127.0.0.1", port: v1.port }]),
          loadAssignment("echo-v2", [{ host: "127.0.0.1", port: v2.port }]),
        ],
      },
    });
  });

  afterAll(async () => {
    await ads?.close();
    await v1?.close();
    await v2?.close();
  });

  it("resolves xds:///echo and routes by the x-version header", async () => {
    const run = await runXdsClient({
      bootstrap: xdsBootstrap({ serverUri: ads.address, nodeId: "smoke-grpc-header" }),
      target: "xds:///echo",
      calls: 6,
      metadata: [{}, { "x-version": "v2" }],
    });
    expect(run.results.map((r) => (r.ok ? r.version : `${r.codeName}: ${r.details}`))).toEqual([
      "v1",
      "v2",
      "v1",
      "v2",
      "v1",
      "v2",
    ]);
    expect(run.tally).toEqual({ "echo/v1": 3, "echo/v2": 3 });
    const second = run.results[1];
    expect(second?.ok && second.metadata["x-version"]).toBe("v2");
    expect(v2.calls.some((c) => c.metadata["x-version"] === "v2")).toBe(true);

    const requested = ads.requests.filter((r) => r.nodeId === "smoke-grpc-header");
    expect(requested.find((r) => r.typeUrl === resourceTypes.Listener.typeUrl)?.resourceNames).toEqual(["echo"]);
    expect(ads.nacks).toEqual([]);
  });

  it("resolves xds:///echo-split over RDS and splits calls between v1 and v2", async () => {
    const run = await runXdsClient({
      bootstrap: xdsBootstrap({ serverUri: ads.address, nodeId: "smoke-grpc-split" }),
      target: "xds:///echo-split",
      calls: 40,
    });
    expect(run.results.every((r) => r.ok)).toBe(true);
    expect(Object.keys(run.tally).sort()).toEqual(["echo/v1", "echo/v2"]);
    const routes = ads.requests.filter(
      (r) => r.nodeId === "smoke-grpc-split" && r.typeUrl === resourceTypes.RouteConfiguration.typeUrl,
    );
    expect(routes[0]?.resourceNames).toEqual(["echo-split-route"]);
    expect(ads.nacks).toEqual([]);
  });

  it("keeps a call to a target the server does not know waiting for name resolution", async () => {
    // grpc-js-xds declares a never-seen Listener absent only after its 15 s resource timer (gRFC A27);
    // a SotW response without it does not count. So within a short deadline the call times out.
    const run = await runXdsClient({
      bootstrap: xdsBootstrap({ serverUri: ads.address, nodeId: "smoke-grpc-missing" }),
      target: "xds:///nope",
      calls: 1,
      timeoutMs: 1500,
    });
    const [result] = run.results;
    expect(result?.ok).toBe(false);
    expect(result && !result.ok && result.codeName).toBe("DEADLINE_EXCEEDED");
    expect(result && !result.ok && result.details).toMatch(/name resolution/);
    const lds = ads.requests.filter((r) => r.nodeId === "smoke-grpc-missing");
    expect(lds[0]?.resourceNames).toEqual(["nope"]);
    expect(ads.acks(resourceTypes.Listener.typeUrl).some((r) => r.nodeId === "smoke-grpc-missing")).toBe(true);
  });
});
