import { describe, expect, it } from "vitest";
import { createSnapshot } from "./cache/snapshot.js";
import { ClusterCollection } from "./gen/envoy/config/cluster/v3/cluster.js";
import { Listener, ListenerCollection } from "./gen/envoy/config/listener/v3/listener.js";
import { listCollection } from "./list-collection.js";
import { resourceTypeList, resourceTypeOf, resourceTypes } from "./resource-types.js";
import { resourceLocatorOf, resourceLocatorUrl } from "./xdstp.js";

const LC = "envoy.config.listener.v3.ListenerCollection";
const L = "envoy.config.listener.v3.Listener";
const listener = (name: string, port = 80): Listener => ({
  name,
  address: { socketAddress: { address: "0.0.0.0", portValue: port } },
});

describe("xdstp list collections (R35)", () => {
  it("are delta-only rows of the type table, each naming its members' kind, without a service of their own", () => {
    for (const kind of ["ListenerCollection", "ClusterCollection"] as const) {
      const type = resourceTypes[kind];
      expect(type.deltaOnly).toBe(true);
      expect(type.restPath).toBeUndefined();
      expect(type.grpcService).toBe("envoy.service.discovery.v3.AggregatedDiscoveryService");
      expect(resourceTypeOf(type.typeUrl)).toBe(type);
      expect(resourceTypeList).not.toContain(type);
    }
    expect(resourceTypes.ListenerCollection.collectionOf).toBe("Listener");
    expect(resourceTypes.ClusterCollection.collectionOf).toBe("Cluster");
    expect(resourceTypeList.every((t) => !t.deltaOnly && t.collectionOf === undefined)).toBe(true);
    const ranks = Object.values(resourceTypes).map((t) => t.orderRank);
    expect(new Set(ranks).size).toBe(ranks.length);
    expect(resourceTypes.ListenerCollection.orderRank).toBe(resourceTypes.Listener.orderRank - 1);
    expect(resourceTypes.ClusterCollection.orderRank).toBe(resourceTypes.Cluster.orderRank - 1);
  });

  it("builds a <T>Collection of CollectionEntry from inline members and locators, versioned by content", () => {
    const name = `xdstp://mesh/${LC}/edge?zone=b&region=eu`;
    const c = listCollection(resourceTypes.ListenerCollection, name, [
      { inline: listener("http") },
      { inline: listener("xdstp-named"), name: "admin", version: "7" },
      `xdstp://mesh/${L}/edge/https?region=eu`,
    ]);
    expect(c.name).toBe(`xdstp://mesh/${LC}/edge?region=eu&zone=b`);
    expect(c.type).toBe(resourceTypes.ListenerCollection);
    const decoded = ListenerCollection.decode(c.bytes);
    expect(decoded.entries).toHaveLength(3);
    const [first, second, third] = decoded.entries ?? [];
    expect(first?.inlineEntry?.name).toBe("http");
    expect(first?.inlineEntry?.resource?.typeUrl).toBe(resourceTypes.Listener.typeUrl);
    expect(Listener.decode(first?.inlineEntry?.resource?.value ?? new Uint8Array()).name).toBe("http");
    expect(first?.inlineEntry?.version).toMatch(/^[\w-]{16}$/);
    expect(second?.inlineEntry).toMatchObject({ name: "admin", version: "7" });
    expect(third?.locator).toMatchObject({
      authority: "mesh",
      resourceType: L,
      id: "edge/https",
      exactContext: { params: { region: "eu" } },
    });
    expect(resourceLocatorUrl(third?.locator ?? {})).toBe(`xdstp://mesh/${L}/edge/https?region=eu`);

    const same = listCollection(resourceTypes.ListenerCollection, name, [
      { inline: listener("http") },
      { inline: listener("xdstp-named"), name: "admin", version: "7" },
      `xdstp://mesh/${L}/edge/https?region=eu`,
    ]);
    expect(same.version).toBe(c.version);
    const changedMember = listCollection(resourceTypes.ListenerCollection, name, [
      { inline: listener("http", 81) },
      { inline: listener("xdstp-named"), name: "admin", version: "7" },
      `xdstp://mesh/${L}/edge/https?region=eu`,
    ]);
    expect(changedMember.version).not.toBe(c.version);
    const fewer = listCollection(resourceTypes.ListenerCollection, name, [{ inline: listener("http") }]);
    expect(fewer.version).not.toBe(c.version);
    // A snapshot carries it like any resource; its type's version follows its content.
    const s1 = createSnapshot({ resources: { ListenerCollection: [c] } });
    const s2 = createSnapshot({ resources: { ListenerCollection: [fewer] } });
    expect(s1.resourcesOf(resourceTypes.ListenerCollection.typeUrl).get(c.name)).toBe(c);
    expect(s1.versionOf(resourceTypes.ListenerCollection.typeUrl)).not.toBe(
      s2.versionOf(resourceTypes.ListenerCollection.typeUrl),
    );
  });

  it("refuses names, locators and entries a client could not use, saying why", () => {
    const ok = `xdstp://mesh/${LC}/edge`;
    const build = (name: string, entries: Parameters<typeof listCollection<"ListenerCollection">>[2]) =>
      listCollection(resourceTypes.ListenerCollection, name, entries);
    expect(() => build("edge", [])).toThrow(/"edge" is not an xdstp:\/\/ name/);
    expect(() => build(`xdstp://mesh/${L}/edge`, [])).toThrow(/a ListenerCollection is named xdstp:\/\/<authority>\//);
    expect(() => build(`xdstp://mesh/${LC}/edge/*`, [])).toThrow(/no glob/);
    expect(() => build(ok, [`xdstp://mesh/envoy.config.cluster.v3.Cluster/x`])).toThrow(
      /entry 0: the locator .* names a envoy.config.cluster.v3.Cluster; members of a ListenerCollection are/,
    );
    expect(() => build(ok, [`xdstp://mesh/${L}/a`, `xdstp://mesh/${L}/a`])).toThrow(/entry 1: .* is listed twice/);
    expect(() => build(ok, [{ inline: listener("a/b") }])).toThrow(
      /entry 0: the inline entry name "a\/b" must match .* \(it defaults to the member's own name: pass name\)/,
    );
    expect(() => build(ok, [{ inline: listener("a") }, { inline: listener("b"), name: "a" }])).toThrow(
      /entry 1: the inline entry name "a" is used twice/,
    );
    expect(() => build(ok, [`xdstp://mesh/${L}/a#bogus=1`])).toThrow(/directive "bogus"; known are alt= and entry=/);
    // #entry= points into a collection of this type.
    expect(ListenerCollection.decode(build(ok, [`xdstp://mesh/${LC}/other#entry=http`]).bytes).entries?.[0]).toEqual({
      locator: expect.objectContaining({ resourceType: LC, id: "other", directives: [{ entry: "http" }] }),
      inlineEntry: undefined,
    });
    expect(() => listCollection(resourceTypes.Listener as never, ok, [] as never)).toThrow(
      /Listener is not a list-collection type/,
    );
  });

  it("ClusterCollection carries at most one entry: its upstream entries field is singular", () => {
    const name = "xdstp://mesh/envoy.config.cluster.v3.ClusterCollection/all";
    const one = listCollection(resourceTypes.ClusterCollection, name, [{ inline: { name: "reviews" } }]);
    expect(ClusterCollection.decode(one.bytes).entries?.inlineEntry?.name).toBe("reviews");
    expect(() =>
      listCollection(resourceTypes.ClusterCollection, name, [
        "xdstp://mesh/envoy.config.cluster.v3.Cluster/a",
        "xdstp://mesh/envoy.config.cluster.v3.Cluster/b",
      ]),
    ).toThrow(/ClusterCollection holds at most one entry .* singular\); got 2/);
  });

  it("locators round-trip through their xdstp:// URL, alt= nested, context sorted", () => {
    const url = `xdstp://mesh/${L}/a?z=1&b=2#alt=xdstp://backup/${L}/a?k=v&q=w,entry=x`;
    const locator = resourceLocatorOf(url);
    expect(locator).toMatchObject({
      authority: "mesh",
      resourceType: L,
      id: "a",
      exactContext: { params: { b: "2", z: "1" } },
    });
    expect(locator.directives?.[0]?.alt).toMatchObject({
      authority: "backup",
      id: "a",
      exactContext: { params: { k: "v", q: "w" } },
    });
    expect(locator.directives?.[1]).toEqual({ entry: "x" });
    const back = resourceLocatorUrl(locator);
    expect(back).toBe(`xdstp://mesh/${L}/a?b=2&z=1#alt=xdstp://backup/${L}/a?k=v&q=w,entry=x`);
    expect(resourceLocatorOf(back)).toEqual(locator);
    expect(resourceLocatorUrl(resourceLocatorOf(`xdstp://m/${L}/a#entry=x%2Cy`))).toBe(`xdstp://m/${L}/a#entry=x%2Cy`);
    expect(() => resourceLocatorUrl({ scheme: 2, id: "/etc/x" })).toThrow(/only xdstp:\/\/ locators/);
  });
});
