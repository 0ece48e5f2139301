import {
  type DeltaDiscoveryResponse,
  Listener,
  ListenerCollection,
  listCollection,
  resourceLocatorUrl,
  resourceTypes,
} from "@xdskit/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { edsCluster, httpListener } from "../fixtures/resources.js";
import { testNode } from "./raw-ads-client.js";
import { type Harness, startHarness } from "./setup.js";

const CDS = resourceTypes.Cluster.typeUrl;
const T = "envoy.config.cluster.v3.Cluster";
const names = (r: DeltaDiscoveryResponse) => (r.resources ?? []).map((x) => x.name ?? "").sort();

const LDS = resourceTypes.Listener.typeUrl;
const LIST = resourceTypes.ListenerCollection.typeUrl;
const LC = resourceTypes.ListenerCollection.messageName;
const L = resourceTypes.Listener.messageName;
const EDGE = `xdstp://mesh/${LC}/edge?region=eu&zone=a`;
const HTTPS = `xdstp://mesh/${L}/edge/https`;
const ADMIN = `xdstp://mesh/${L}/edge/admin`;
/** The entries of a delta response's only collection: inline entries by name, locators as xdstp:// URLs. */
const entriesOf = (r: DeltaDiscoveryResponse) => {
  const any = r.resources?.[0]?.resource;
  expect(any?.typeUrl).toBe(LIST);
  return (ListenerCollection.decode(any?.value ?? new Uint8Array()).entries ?? []).map((e) =>
    e.locator ? resourceLocatorUrl(e.locator) : `inline:${e.inlineEntry?.name}`,
  );
};

describe("xdstp:// names and collections", () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  it("R33: a name matches whatever the order of its context parameters", async () => {
    h.set("n1", { Cluster: [edsCluster(`xdstp://mesh/${T}/ns/reviews?zone=a&region=eu`)] });
    const s = h.client().delta();
    s.send({
      node: testNode("n1"),
      typeUrl: CDS,
      resourceNamesSubscribe: [`xdstp://mesh/${T}/ns/reviews?region=eu&zone=a`],
    });
    const r = await s.next();
    expect(names(r)).toEqual([`xdstp://mesh/${T}/ns/reviews?region=eu&zone=a`]);
    expect(r.removedResources ?? []).toEqual([]);
    const sotw = h.client().sotw();
    sotw.send({ node: testNode("n1"), typeUrl: CDS, resourceNames: [`xdstp://mesh/${T}/ns/reviews?zone=a&region=eu`] });
    expect((await sotw.next()).resources).toHaveLength(1);
  });

  it("R34: a /* glob gets every member under its path with its context, and per-member changes and removals", async () => {
    h.set("n1", {
      Cluster: [
        edsCluster(`xdstp://mesh/${T}/ns/a?zone=z`),
        edsCluster(`xdstp://mesh/${T}/ns/b?zone=z`),
        edsCluster(`xdstp://mesh/${T}/ns/c?zone=other`),
        edsCluster(`xdstp://mesh/${T}/other/d?zone=z`),
        edsCluster("plain"),
      ],
    });
    const s = h.client().delta();
    s.send({ node: testNode("n1"), typeUrl: CDS, resourceNamesSubscribe: [`xdstp://mesh/${T}/ns/*?zone=z`] });
    const r1 = await s.next();
    expect(names(r1)).toEqual([`xdstp://mesh/${T}/ns/a?zone=z`, `xdstp://mesh/${T}/ns/b?zone=z`]);
    expect(r1.removedResources ?? []).toEqual([]);
    s.send({ typeUrl: CDS, responseNonce: r1.nonce });
    h.set("n1", {
      Cluster: [
        edsCluster(`xdstp://mesh/${T}/ns/a?zone=z`, { connectTimeout: { seconds: 7, nanos: 0 } }),
        edsCluster(`xdstp://mesh/${T}/ns/new?zone=z`),
        edsCluster("plain"),
      ],
    });
    const r2 = await s.next();
    expect(names(r2)).toEqual([`xdstp://mesh/${T}/ns/a?zone=z`, `xdstp://mesh/${T}/ns/new?zone=z`]);
    expect(r2.removedResources).toEqual([`xdstp://mesh/${T}/ns/b?zone=z`]);
  });

  it("R35: glob collections are delta-only — a SotW subscription to a /* glob is refused with a clear status", async () => {
    const s = h.client().sotw();
    s.send({ node: testNode("n1"), typeUrl: CDS, resourceNames: [`xdstp://mesh/${T}/ns/*`] });
    const status = await s.ended();
    expect(status.code).toBe(3);
    expect(status.details).toMatch(/is an xdstp glob collection; collections are served over delta xDS only/);
  });

  it("R35: a delta client subscribes to a ListenerCollection by its xdstp name, gets its inline and locator entries, then a locator's Listener", async () => {
    h.set("n1", {
      ListenerCollection: [
        listCollection(resourceTypes.ListenerCollection, EDGE, [{ inline: httpListener("http", 8080, "r") }, HTTPS]),
      ],
      Listener: [httpListener(HTTPS, 8443, "r")],
    });
    const s = h.client().delta();
    // The request's context parameters come back in the response's name (TP1), in canonical order (R33).
    s.send({
      node: testNode("n1"),
      typeUrl: LIST,
      resourceNamesSubscribe: [`xdstp://mesh/${LC}/edge?zone=a&region=eu`],
    });
    const r1 = await s.next();
    expect(r1.typeUrl).toBe(LIST);
    expect(names(r1)).toEqual([EDGE]);
    expect(r1.resources?.[0]?.version).toBe(h.cache.getSnapshot("n1")?.resourcesOf(LIST).get(EDGE)?.version);
    expect(entriesOf(r1)).toEqual(["inline:http", HTTPS]);
    const inline = ListenerCollection.decode(r1.resources?.[0]?.resource?.value ?? new Uint8Array()).entries?.[0];
    expect(inline?.inlineEntry?.resource?.typeUrl).toBe(LDS);
    expect(
      Listener.decode(inline?.inlineEntry?.resource?.value ?? new Uint8Array()).address?.socketAddress,
    ).toMatchObject({
      address: "127.0.0.1",
      portValue: 8080,
    });
    s.send({ typeUrl: LIST, responseNonce: r1.nonce });
    // The client follows the locator: the member is a Listener of its own.
    s.send({ typeUrl: LDS, resourceNamesSubscribe: [HTTPS] });
    const r2 = await s.next();
    expect(r2.typeUrl).toBe(LDS);
    expect(names(r2)).toEqual([HTTPS]);
    expect(Listener.decode(r2.resources?.[0]?.resource?.value ?? new Uint8Array()).name).toBe(HTTPS);
  });

  it("R35: a membership change is a new collection version (R25); dropping the collection puts it in removed_resources", async () => {
    const members = (...entries: string[]) =>
      listCollection(resourceTypes.ListenerCollection, EDGE, [{ inline: httpListener("http", 8080, "r") }, ...entries]);
    h.set("n1", {
      ListenerCollection: [members(HTTPS)],
      Listener: [httpListener(HTTPS, 8443, "r"), httpListener(ADMIN, 9901, "r")],
    });
    const s = h.client().delta();
    s.send({ node: testNode("n1"), typeUrl: LIST, resourceNamesSubscribe: [EDGE] });
    s.send({ typeUrl: LDS, resourceNamesSubscribe: [HTTPS] });
    const first = [await s.next(), await s.next()];
    const r1 = first.find((r) => r.typeUrl === LIST) as DeltaDiscoveryResponse;
    for (const r of first) s.send({ typeUrl: r.typeUrl ?? "", responseNonce: r.nonce });
    // The same membership again (a new snapshot with equal content): nothing is resent (R25).
    h.set("n1", {
      ListenerCollection: [members(HTTPS)],
      Listener: [httpListener(HTTPS, 8443, "r"), httpListener(ADMIN, 9901, "r")],
    });
    expect(await s.silence()).toBeUndefined();
    // admin joins: the collection alone is resent, at a new version; the unchanged https Listener is not.
    h.set("n1", {
      ListenerCollection: [members(HTTPS, ADMIN)],
      Listener: [httpListener(HTTPS, 8443, "r"), httpListener(ADMIN, 9901, "r")],
    });
    const r2 = await s.next();
    expect(r2.typeUrl).toBe(LIST);
    expect(names(r2)).toEqual([EDGE]);
    expect(r2.resources?.[0]?.version).not.toBe(r1.resources?.[0]?.version);
    expect(entriesOf(r2)).toEqual(["inline:http", HTTPS, ADMIN]);
    expect(await s.silence()).toBeUndefined();
    s.send({ typeUrl: LIST, responseNonce: r2.nonce });
    // The collection goes away: the client is told (R25), and nothing else moves.
    h.set("n1", { Listener: [httpListener(HTTPS, 8443, "r"), httpListener(ADMIN, 9901, "r")] });
    const r3 = await s.next();
    expect(r3.typeUrl).toBe(LIST);
    expect(r3.resources ?? []).toEqual([]);
    expect(r3.removedResources).toEqual([EDGE]);
  });

  it("R35: a list-collection type is served over delta ADS only: the per-type LDS service refuses it", async () => {
    h.set("n1", { ListenerCollection: [listCollection(resourceTypes.ListenerCollection, EDGE, [HTTPS])] });
    const s = h.client().delta(`/${resourceTypes.Listener.grpcService}/DeltaListeners`);
    s.send({ node: testNode("n1"), typeUrl: LIST, resourceNamesSubscribe: [EDGE] });
    const status = await s.ended();
    expect(status.code).toBe(3);
    expect(status.details).toMatch(
      /serves type.googleapis.com\/envoy.config.listener.v3.Listener; the request asks for/,
    );
  });

  it("R35: a SotW subscription to a list-collection type is refused with INVALID_ARGUMENT naming the type", async () => {
    h.set("n1", { ListenerCollection: [listCollection(resourceTypes.ListenerCollection, EDGE, [HTTPS])] });
    const s = h.client().sotw();
    s.send({ node: testNode("n1"), typeUrl: LIST, resourceNames: [EDGE] });
    const status = await s.ended(1500);
    expect(status.code).toBe(3);
    expect(status.details).toBe(
      `type_url "${LIST}" is an xdstp list collection (ListenerCollection); collections are served over delta xDS only: subscribe with DeltaAggregatedResources`,
    );
  });
});
