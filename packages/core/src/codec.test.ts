import { describe, expect, it } from "vitest";
import { edsCluster, endpoints, genericSecret, httpListener, routeTo } from "../../../test/fixtures/resources.js";
import { packAny, packResource, unpackAny, unpackResource } from "./any.js";
import { snapshotFromJson } from "./cache/snapshot-json.js";
import { XdsKitError } from "./errors.js";
import { Bootstrap, Cluster, DiscoveryResponse, HttpConnectionManager, Router } from "./messages.js";
import {
  binaryFromProtoJson,
  messageFromJson,
  messageToJson,
  protoJsonFromBinary,
  resourceFromJson,
  resourceToJson,
} from "./proto-json.js";
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
      'envoy.config.cluster.v3.Cluster from JSON: connect_timeout: "soon" is not a Duration (e.g. "1.5s")',
    );
    expect(() => binaryFromProtoJson("envoy.nope.Nope", {})).toThrow(/unknown message type "envoy.nope.Nope"/);
  });
});

/** The XdsKitError `fn` throws (failing the test when it throws none or another error). */
function refusal(fn: () => unknown): XdsKitError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(XdsKitError);
    return error as XdsKitError;
  }
  throw new Error("expected a refusal, got none");
}

const ROUTER = "envoy.extensions.filters.http.router.v3.Router";

describe("a message name given with a codec", () => {
  it("packAny refuses a codec of another message, a misspelt name and a field of the wrong kind", () => {
    const hcm = refusal(() => packAny(ROUTER, HttpConnectionManager, { statPrefix: "x" }));
    expect(hcm.code).toBe("INVALID_ARGUMENT");
    expect(hcm.message).toBe(
      "packAny: the codec given is not the codec of envoy.extensions.filters.http.router.v3.Router " +
        "(it encodes a message with the fields codecType, statPrefix, rds, routeConfig, …)",
    );
    const typo = refusal(() => packAny("envoy.extensions.filters.http.router.v3.Routr", Router, {}));
    expect(typo.code).toBe("UNKNOWN_MESSAGE_TYPE");
    expect(typo.message).toBe('packAny: unknown message type "envoy.extensions.filters.http.router.v3.Routr"');
    const field = refusal(() => packAny(ROUTER, Router, { dynamicStats: "yes" as never }));
    expect(field.message).toBe(
      'packAny(envoy.extensions.filters.http.router.v3.Router): dynamicStats: expected a boolean, got "yes"',
    );
    expect(
      unpackAny(packAny(ROUTER, Router, { suppressEnvoyHeaders: true }), ROUTER, Router).suppressEnvoyHeaders,
    ).toBe(true);
  });

  it("messageToJson, messageFromJson and unpackAny refuse a codec of another message", () => {
    expect(refusal(() => messageToJson("envoy.config.cluster.v3.Cluster", Bootstrap, {})).message).toMatch(
      /^messageToJson: the codec given is not the codec of envoy\.config\.cluster\.v3\.Cluster \(it encodes a message with the fields node, /,
    );
    expect(refusal(() => messageFromJson("envoy.config.bootstrap.v3.Bootstrap", Cluster, {})).message).toMatch(
      /^messageFromJson: the codec given is not the codec of envoy\.config\.bootstrap\.v3\.Bootstrap/,
    );
    expect(refusal(() => unpackAny(packAny(ROUTER, Router, {}), ROUTER, HttpConnectionManager)).message).toMatch(
      /^unpackAny: the codec given is not the codec of envoy\.extensions\.filters\.http\.router\.v3\.Router/,
    );
    expect(messageToJson("envoy.config.cluster.v3.Cluster", Cluster, { name: "a" })).toEqual({ name: "a" });
  });
});

describe("JSON decode errors name the field path", () => {
  it("names a nested list element and the expected well-known type", () => {
    const json = {
      static_resources: {
        clusters: [
          { name: "a", connect_timeout: "1s" },
          { name: "b", connect_timeout: "banana" },
        ],
      },
    };
    const error = refusal(() => binaryFromProtoJson("envoy.config.bootstrap.v3.Bootstrap", json));
    expect(error.code).toBe("JSON_CONVERSION_FAILED");
    expect(error.message).toBe(
      'envoy.config.bootstrap.v3.Bootstrap from JSON: static_resources.clusters[1].connect_timeout: "banana" is not a Duration (e.g. "1.5s")',
    );
  });

  it("names an enum, a scalar, an unknown field, and fields inside an Any", () => {
    expect(refusal(() => resourceFromJson(resourceTypes.Cluster, { name: "a", type: "EDSS" })).message).toBe(
      'envoy.config.cluster.v3.Cluster from JSON: type: "EDSS" is not a value of enum envoy.config.cluster.v3.Cluster.DiscoveryType',
    );
    expect(
      refusal(() => resourceFromJson(resourceTypes.Cluster, { name: "a", per_connection_buffer_limit_bytes: -3 }))
        .message,
    ).toBe(
      "envoy.config.cluster.v3.Cluster from JSON: per_connection_buffer_limit_bytes: -3 is not a google.protobuf.UInt32Value",
    );
    expect(refusal(() => resourceFromJson(resourceTypes.Cluster, { nmae: "a" })).message).toBe(
      "envoy.config.cluster.v3.Cluster from JSON: nmae: not a field of envoy.config.cluster.v3.Cluster",
    );
    const listener = {
      name: "l",
      filter_chains: [
        {
          filters: [
            {
              name: "hcm",
              typed_config: {
                "@type":
                  "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                stat_prefix: "in",
                codec_type: "HTTP9",
              },
            },
          ],
        },
      ],
    };
    expect(refusal(() => snapshotFromJson({ resources: { Listener: [listener] } })).message).toBe(
      "snapshotFromJson: resources.Listener[0]: envoy.config.listener.v3.Listener from JSON: filter_chains[0].filters[0].typed_config.codec_type: " +
        '"HTTP9" is not a value of enum envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager.CodecType',
    );
  });
});
