import { describe, expect, it } from "vitest";
import { edsCluster, endpoints, genericSecret, httpListener, routeTo } from "../../../test/fixtures/resources.js";
import { packResource, unpackResource } from "./any.js";
import { DiscoveryResponse, HttpConnectionManager } from "./messages.js";
import { binaryFromProtoJson, protoJsonFromBinary, resourceFromJson, resourceToJson } from "./proto-json.js";
import { resourceTypes } from "./resource-types.js";

describe("generated codecs", () => {
  const resources = [
    packResource(resourceTypes.Listener, httpListener("listener_0", 10000, "local_route")),
    packResource(resourceTypes.RouteConfiguration, routeTo("local_route", "service_a")),
    packResource(resourceTypes.Cluster, edsCluster("service_a")),
    packResource(resourceTypes.ClusterLoadAssignment, endpoints("service_a", 8080, 8081)),
    packResource(resourceTypes.Secret, genericSecret("token", "s3cr3t")),
  ];

  it("round-trips a DiscoveryResponse holding a Listener, RouteConfiguration, Cluster, ClusterLoadAssignment and Secret", () => {
    const bytes = DiscoveryResponse.encode({ versionInfo: "v1", nonce: "n1", resources }).finish();
    const decoded = DiscoveryResponse.decode(bytes);
    expect(decoded.versionInfo).toBe("v1");
    expect(decoded.nonce).toBe("n1");
    const unpacked = (decoded.resources ?? []).map(unpackResource);
    expect(unpacked.map((u) => u.type.kind)).toEqual([
      "Listener",
      "RouteConfiguration",
      "Cluster",
      "ClusterLoadAssignment",
      "Secret",
    ]);
    const [listener, route, cluster, cla, secret] = unpacked.map((u) => u.resource) as [
      ReturnType<typeof resourceTypes.Listener.codec.decode>,
      ReturnType<typeof resourceTypes.RouteConfiguration.codec.decode>,
      ReturnType<typeof resourceTypes.Cluster.codec.decode>,
      ReturnType<typeof resourceTypes.ClusterLoadAssignment.codec.decode>,
      ReturnType<typeof resourceTypes.Secret.codec.decode>,
    ];
    expect(listener.address?.socketAddress?.portValue).toBe(10000);
    const hcm = HttpConnectionManager.decode(
      listener.filterChains?.[0]?.filters?.[0]?.typedConfig?.value ?? new Uint8Array(),
    );
    expect(hcm.rds?.routeConfigName).toBe("local_route");
    expect(route.virtualHosts?.[0]?.routes?.[0]?.route?.cluster).toBe("service_a");
    expect(cluster.connectTimeout).toEqual({ seconds: 1, nanos: 0 });
    expect(cla.endpoints?.[0]?.lbEndpoints?.map((e) => e.endpoint?.address?.socketAddress?.portValue)).toEqual([
      8080, 8081,
    ]);
    expect(secret.genericSecret?.secret?.inlineString).toBe("s3cr3t");
  });

  it("rejects an Any of a type xdskit does not serve", () => {
    expect(() =>
      unpackResource({ typeUrl: "type.googleapis.com/google.protobuf.Empty", value: new Uint8Array() }),
    ).toThrow(/not an xDS resource type/);
  });

  it("writes canonical proto3 JSON: Any with @type, Duration as a string", () => {
    const json = resourceToJson(resourceTypes.Listener, httpListener("l", 10000, "r")) as Record<string, unknown>;
    const filter = (json.filterChains as { filters: { typedConfig: Record<string, unknown> }[] }[])[0]?.filters[0];
    expect(filter?.typedConfig["@type"]).toBe(
      "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
    );
    expect((filter?.typedConfig.rds as Record<string, unknown>).routeConfigName).toBe("r");
    const cluster = resourceToJson(resourceTypes.Cluster, edsCluster("c")) as Record<string, unknown>;
    expect(cluster.connectTimeout).toBe("1s");
    expect(cluster.type).toBe("EDS");
  });

  it("reads proto3 JSON written by hand (snake_case, nested Any) back to the same bytes", () => {
    const cluster = resourceFromJson(resourceTypes.Cluster, {
      name: "from_yaml",
      type: "EDS",
      connect_timeout: "0.250s",
      eds_cluster_config: { eds_config: { ads: {} } },
    });
    expect(cluster.name).toBe("from_yaml");
    expect(cluster.connectTimeout).toEqual({ seconds: 0, nanos: 250_000_000 });
    const bytes = resourceTypes.Cluster.codec.encode(cluster).finish();
    const again = binaryFromProtoJson(
      "envoy.config.cluster.v3.Cluster",
      protoJsonFromBinary("envoy.config.cluster.v3.Cluster", bytes),
    );
    expect(Buffer.from(again).equals(Buffer.from(bytes))).toBe(true);
  });

  it("names the message and the problem when JSON does not fit the schema", () => {
    expect(() => resourceFromJson(resourceTypes.Cluster, { name: "x", connect_timeout: "soon" })).toThrow(
      /envoy.config.cluster.v3.Cluster from JSON/,
    );
    expect(() => binaryFromProtoJson("envoy.nope.Nope", {})).toThrow(/unknown message type "envoy.nope.Nope"/);
  });
});
