import { readdirSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { edsCluster, httpListener } from "../../../test/fixtures/resources.js";
import { createLinearCache } from "./cache/linear-cache.js";
import { prepareResource } from "./cache/prepared-resource.js";
import { createSnapshot, updateSnapshot } from "./cache/snapshot.js";
import { XdsKitError } from "./errors.js";
import type { Cluster } from "./gen/envoy/config/cluster/v3/cluster.js";
import { schemaRegistry } from "./proto-json.js";
import { resourceTypes } from "./resource-types.js";

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

// Plain JavaScript callers pass anything; these casts stand for them.
const asCluster = (value: unknown) => value as Cluster;

describe("resources are checked against their message schema at the door", () => {
  it("refuses a Listener passed as a Cluster, naming the first field a Cluster does not have", () => {
    const error = refusal(() =>
      createSnapshot({ resources: { Cluster: [asCluster(httpListener("ingress", 8080, "routes"))] } }),
    );
    expect(error.code).toBe("INVALID_ARGUMENT");
    expect(error.message).toBe(
      'createSnapshot: Cluster[0] "ingress": address: not a field of envoy.config.cluster.v3.Cluster',
    );
  });

  it("refuses null", () => {
    expect(refusal(() => createSnapshot({ resources: { Cluster: [asCluster(null)] } })).message).toBe(
      "createSnapshot: Cluster[0]: expected an object (envoy.config.cluster.v3.Cluster), got null",
    );
  });

  it("refuses a name that is not a string", () => {
    expect(refusal(() => createSnapshot({ resources: { Cluster: [asCluster({ name: 42 })] } })).message).toBe(
      "createSnapshot: Cluster[0]: name: expected a string, got 42",
    );
  });

  it("refuses an enum given by name, telling its number", () => {
    const wrong = refusal(() => createSnapshot({ resources: { Cluster: [asCluster({ name: "a", type: "EDSS" })] } }));
    expect(wrong.message).toBe(
      'createSnapshot: Cluster[0] "a": type: expected a value of enum envoy.config.cluster.v3.Cluster.DiscoveryType ' +
        '(a number: STATIC = 0, STRICT_DNS = 1, LOGICAL_DNS = 2, EDS = 3, ORIGINAL_DST = 4), got "EDSS"',
    );
    const byName = refusal(() => createSnapshot({ resources: { Cluster: [asCluster({ name: "a", type: "EDS" })] } }));
    expect(byName.message).toMatch(/got "EDS" \(enums are numbers: EDS is 3\)$/);
    expect(
      refusal(() => createSnapshot({ resources: { Cluster: [asCluster({ name: "a", type: 99 })] } })).message,
    ).toMatch(/^createSnapshot: Cluster\[0\] "a": type: expected a value of enum .*, got 99$/);
  });

  it("refuses an unknown field of a plain object, suggesting the camelCase spelling", () => {
    const error = refusal(() =>
      createSnapshot({ resources: { Cluster: [asCluster({ name: "a", connect_timeout: { seconds: 1 } })] } }),
    );
    expect(error.message).toBe(
      'createSnapshot: Cluster[0] "a": connect_timeout: not a field of envoy.config.cluster.v3.Cluster (did you mean "connectTimeout"?)',
    );
  });

  it("names the path of a nested field: lists, maps, wrapper types", () => {
    const listener = httpListener("ingress", 8080, "routes");
    const badFilter = { ...listener, filterChains: [{ filters: [{ name: 7 }] }] };
    expect(refusal(() => createSnapshot({ resources: { Listener: [badFilter as never] } })).message).toBe(
      'createSnapshot: Listener[0] "ingress": filterChains[0].filters[0].name: expected a string, got 7',
    );
    const badPort = { ...listener, address: { socketAddress: { address: "127.0.0.1", portValue: -1 } } };
    expect(refusal(() => createSnapshot({ resources: { Listener: [badPort] } })).message).toBe(
      'createSnapshot: Listener[0] "ingress": address.socketAddress.portValue: expected a uint32 (an integer from 0 to 4294967295), got -1',
    );
    const badWrapper = edsCluster("a", asCluster({ perConnectionBufferLimitBytes: "1MiB" }));
    expect(refusal(() => createSnapshot({ resources: { Cluster: [badWrapper] } })).message).toBe(
      'createSnapshot: Cluster[0] "a": perConnectionBufferLimitBytes: expected a uint32 (an integer from 0 to 4294967295), got "1MiB"',
    );
    const badMap = edsCluster("a", { metadata: { filterMetadata: { "envoy.lb": [] as never } } });
    expect(refusal(() => createSnapshot({ resources: { Cluster: [badMap] } })).message).toBe(
      'createSnapshot: Cluster[0] "a": metadata.filterMetadata["envoy.lb"]: expected a plain object (google.protobuf.Struct), got an array',
    );
    const notList = edsCluster("a", asCluster({ transportSocketMatches: {} }));
    expect(refusal(() => createSnapshot({ resources: { Cluster: [notList] } })).message).toBe(
      'createSnapshot: Cluster[0] "a": transportSocketMatches: expected an array (repeated field), got an object',
    );
  });

  it("refuses two members of one oneof", () => {
    const route = { match: { prefix: "/" }, route: { cluster: "a", clusterHeader: "x-cluster" } };
    const config = { name: "r", virtualHosts: [{ name: "all", domains: ["*"], routes: [route] }] };
    expect(refusal(() => createSnapshot({ resources: { RouteConfiguration: [config] } })).message).toBe(
      'createSnapshot: RouteConfiguration[0] "r": virtualHosts[0].routes[0].route.clusterHeader: "cluster" is set too; ' +
        'both are members of the oneof "cluster_specifier", so at most one may be set',
    );
  });

  it("checks updateSnapshot, LinearCache updates and prepareResource the same way", () => {
    const snapshot = createSnapshot({ resources: { Cluster: [edsCluster("a")] } });
    expect(
      refusal(() =>
        updateSnapshot(snapshot, { set: { Cluster: [edsCluster("b"), asCluster({ name: "c", type: "EDS" })] } }),
      ).message,
    ).toMatch(/^updateSnapshot: set\.Cluster\[1\] "c": type: expected a value of enum/);
    const cache = createLinearCache(resourceTypes.Cluster);
    expect(refusal(() => cache.setResource(asCluster(null))).message).toBe(
      "LinearCache of Cluster: setResource: expected an object (envoy.config.cluster.v3.Cluster), got null",
    );
    expect(refusal(() => cache.updateResources([edsCluster("a"), asCluster({ name: 1 })])).message).toBe(
      "LinearCache of Cluster: updateResources[1]: name: expected a string, got 1",
    );
    expect(refusal(() => createLinearCache(resourceTypes.Cluster, { resources: [asCluster("a")] })).message).toBe(
      'LinearCache of Cluster: resources[0]: expected an object (envoy.config.cluster.v3.Cluster), got "a"',
    );
    expect(cache.getResources().size).toBe(0);
    expect(
      refusal(() => prepareResource(resourceTypes.Cluster, asCluster({ name: "a", lbPolicy: true }))).message,
    ).toMatch(
      /^prepareResource: Cluster "a": lbPolicy: expected a value of enum envoy\.config\.cluster\.v3\.Cluster\.LbPolicy .*got true$/,
    );
  });

  it("accepts every valid resource, undefined fields included", () => {
    const cluster = edsCluster("a", {
      loadAssignment: undefined,
      metadata: { filterMetadata: { x: { a: [1, null] } } },
    });
    expect(createSnapshot({ resources: { Cluster: [cluster] } }).resourcesOf(resourceTypes.Cluster.typeUrl).size).toBe(
      1,
    );
  });
});

describe("the schema the check reads", () => {
  // The check looks fields up by their JSON name; that must be the name every generated codec uses.
  it("names every field of every generated message as the generated codec does", async () => {
    const gen = join(dirname(fileURLToPath(import.meta.url)), "gen");
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir)) {
        const path = join(dir, entry);
        if (statSync(path).isDirectory()) walk(path);
        else if (entry.endsWith(".ts") && entry !== "descriptor-set.ts") files.push(path);
      }
    };
    walk(gen);
    let compared = 0;
    for (const file of files) {
      const module = (await import(file)) as Record<string, unknown>;
      const protoPackage = relative(gen, dirname(file)).split("/").join(".");
      for (const [exported, codec] of Object.entries(module)) {
        if (typeof (codec as { fromPartial?: unknown } | null)?.fromPartial !== "function") continue;
        const desc = schemaRegistry().getMessage(`${protoPackage}.${exported.replaceAll("_", ".")}`);
        if (!desc) continue; // map entries and messages whose names hold "_" are not reachable this way
        const keys = Object.keys((codec as { fromPartial(o: object): object }).fromPartial({})).sort();
        expect(keys, desc.typeName).toEqual(desc.fields.map((f) => f.jsonName).sort());
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(500);
  }, 60_000);
});

describe("the shape of what is given around the resources", () => {
  it("createSnapshot and updateSnapshot refuse options, lists and names of the wrong kind", () => {
    expect(refusal(() => createSnapshot(null as never)).message).toBe(
      "createSnapshot: expected options { resources: { <Kind>: [ ... ] }, version? }",
    );
    expect(refusal(() => createSnapshot({ resources: { Cluster: edsCluster("a") as never } })).message).toBe(
      "createSnapshot: resources.Cluster: expected an array, got an object",
    );
    expect(refusal(() => createSnapshot({ resources: {}, version: 3 as never })).message).toBe(
      "createSnapshot: version: expected a non-empty string, got 3",
    );
    expect(refusal(() => createSnapshot({ resources: { Clusters: [] } })).message).toMatch(
      /^createSnapshot: unknown resource kind "Clusters" \(expected one of Runtime, Secret, .*Cluster, /,
    );
    const snapshot = createSnapshot({ resources: { Cluster: [edsCluster("a")] } });
    expect(refusal(() => updateSnapshot(snapshot, { remove: { Cluster: [42 as never] } })).message).toBe(
      "updateSnapshot: remove.Cluster[0]: expected a resource name (a string), got 42",
    );
    expect(refusal(() => updateSnapshot(snapshot, { set: { Cluster: "a" as never } })).message).toBe(
      'updateSnapshot: set.Cluster: expected an array, got "a"',
    );
    expect(refusal(() => updateSnapshot({} as never, {})).message).toBe(
      "updateSnapshot: the first argument must be a snapshot (from createSnapshot)",
    );
  });

  it("a LinearCache refuses lists and names of the wrong kind", () => {
    const cache = createLinearCache(resourceTypes.Cluster);
    expect(refusal(() => cache.deleteResource(7 as never)).message).toBe(
      "LinearCache of Cluster: deleteResource: expected a resource name (a string), got 7",
    );
    expect(refusal(() => cache.setResources(edsCluster("a") as never)).message).toBe(
      "LinearCache of Cluster: setResources: expected an array, got an object",
    );
    expect(refusal(() => cache.updateResources([], [null as never])).message).toBe(
      "LinearCache of Cluster: updateResources: deletions[0]: expected a resource name (a string), got null",
    );
  });
});
