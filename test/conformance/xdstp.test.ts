import { type DeltaDiscoveryResponse, resourceTypes } from "@xdskit/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { edsCluster } from "../fixtures/resources.js";
import { testNode } from "./raw-ads-client.js";
import { type Harness, startHarness } from "./setup.js";

const CDS = resourceTypes.Cluster.typeUrl;
const T = "envoy.config.cluster.v3.Cluster";
const names = (r: DeltaDiscoveryResponse) => (r.resources ?? []).map((x) => x.name ?? "").sort();

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

  it("R35: collections are delta-only — a SotW glob subscription is refused with a clear status", async () => {
    const s = h.client().sotw();
    s.send({ node: testNode("n1"), typeUrl: CDS, resourceNames: [`xdstp://mesh/${T}/ns/*`] });
    const status = await s.ended();
    expect(status.code).toBe(3);
    expect(status.details).toMatch(/is an xdstp glob collection; collections are served over delta xDS only/);
  });
});
