// Raw resources (type URL + bytes) served byte-identical, types registered by the application served like
// built-in ones, and explicit snapshot versions that leave per-resource versions content-derived.
import { BinaryReader, BinaryWriter } from "@bufbuild/protobuf/wire";
import {
  binaryFromProtoJson,
  Cluster,
  createLinearCache,
  createMuxCache,
  createSnapshotCache,
  type DeltaDiscoveryResponse,
  type DiscoveryResponse,
  type MessageCodec,
  rawResource,
  registerResourceType,
  resourceTypes,
} from "@xdskit/core";
import { afterEach, describe, expect, it } from "vitest";
import { edsCluster } from "../fixtures/resources.js";
import { type DeltaStream, type SotwStream, testNode } from "./raw-ads-client.js";
import { type Harness, startHarness } from "./setup.js";

const CDS = resourceTypes.Cluster.typeUrl;

/** A Cluster with a uint64 above 2^53 and a field no Envoy proto defines (number 9999, varint 7). */
function clusterBytesTheCodecCannotKeep(name: string): Uint8Array {
  const known = binaryFromProtoJson("envoy.config.cluster.v3.Cluster", {
    name,
    type: "EDS",
    eds_cluster_config: { eds_config: { ads: {} } },
    ring_hash_lb_config: { minimum_ring_size: "9007199254740993" },
  });
  const unknown = new BinaryWriter()
    .uint32((9999 << 3) | 0)
    .uint64(7)
    .finish();
  return new Uint8Array([...known, ...unknown]);
}

// An application's own resource type, with a codec of its own: { name, size }.
interface Widget {
  name?: string;
  size?: number;
}
const WidgetCodec: MessageCodec<Widget> = {
  encode(message, writer = new BinaryWriter()) {
    if (message.name !== undefined) writer.uint32(10).string(message.name);
    if (message.size !== undefined) writer.uint32(16).uint32(message.size);
    return writer;
  },
  decode(input) {
    const reader = input instanceof BinaryReader ? input : new BinaryReader(input);
    const widget: Widget = {};
    while (reader.pos < reader.len) {
      const tag = reader.uint32();
      if (tag === 10) widget.name = reader.string();
      else if (tag === 16) widget.size = reader.uint32();
      else reader.skip(tag & 7);
    }
    return widget;
  },
  fromPartial: (object: Widget) => ({ name: object.name, size: object.size }),
};
const widgets = registerResourceType({
  typeUrl: "type.googleapis.com/xdskit.test.v1.Widget",
  kind: "Widget",
  codec: WidgetCodec,
});
// A type served as bytes only: the application has no codec for it.
const blobs = registerResourceType({ typeUrl: "type.googleapis.com/xdskit.test.v1.Blob" });

const sotwAck = (s: SotwStream, r: DiscoveryResponse) =>
  s.send({ typeUrl: r.typeUrl, versionInfo: r.versionInfo, responseNonce: r.nonce });
const deltaAck = (s: DeltaStream, r: DeltaDiscoveryResponse) => s.send({ typeUrl: r.typeUrl, responseNonce: r.nonce });
const bytesOf = (r: DiscoveryResponse) => (r.resources ?? []).map((a) => Buffer.from(a.value ?? []).toString("hex"));
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("raw resources and registered types", () => {
  let h: Harness;
  afterEach(async () => {
    await h.close();
  });

  it("a raw Cluster is served byte-identical over SotW and delta (unknown field and uint64 above 2^53 included)", async () => {
    const bytes = clusterBytesTheCodecCannotKeep("big");
    // The generated codec cannot carry it: decode and re-encode would lose the unknown field or refuse the uint64.
    expect(() => Cluster.decode(bytes)).toThrow(/MAX_SAFE_INTEGER/);
    const raw = rawResource({ typeUrl: CDS, value: bytes });
    expect(raw.name).toBe("big"); // read from the bytes
    h = await startHarness();
    h.set("n1", { Cluster: [raw, edsCluster("typed")] });

    const sotw = h.client().sotw();
    sotw.send({ node: testNode("n1"), typeUrl: CDS });
    const response = await sotw.next();
    expect(bytesOf(response)).toContain(hex(bytes));

    const delta = h.client().delta();
    delta.send({ node: testNode("n1"), typeUrl: CDS, resourceNamesSubscribe: ["big"] });
    const deltaResponse = await delta.next();
    const served = deltaResponse.resources?.find((r) => r.name === "big");
    expect(hex(served?.resource?.value ?? new Uint8Array())).toBe(hex(bytes));
    expect(served?.version).toBe(raw.version);
  });

  it("a registered type with a codec is served over SotW and delta like a built-in one", async () => {
    h = await startHarness();
    h.set("n1", {
      Widget: [
        { name: "w1", size: 3 },
        { name: "w2", size: 4 },
      ],
    });
    const sotw = h.client().sotw();
    sotw.send({ node: testNode("n1"), typeUrl: widgets.typeUrl, resourceNames: ["w1"] });
    const first = await sotw.next();
    expect(first.typeUrl).toBe(widgets.typeUrl);
    expect((first.resources ?? []).map((a) => WidgetCodec.decode(a.value ?? new Uint8Array()))).toEqual([
      { name: "w1", size: 3 },
    ]);
    sotwAck(sotw, first);

    const delta = h.client().delta();
    delta.send({ node: testNode("n1"), typeUrl: widgets.typeUrl, resourceNamesSubscribe: ["*"] });
    const all = await delta.next();
    expect((all.resources ?? []).map((r) => r.name).sort()).toEqual(["w1", "w2"]);
    deltaAck(delta, all);

    h.cache.updateSnapshot("n1", { set: { Widget: [{ name: "w2", size: 5 }] }, remove: { Widget: ["w1"] } });
    const change = await delta.next();
    expect((change.resources ?? []).map((r) => WidgetCodec.decode(r.resource?.value ?? new Uint8Array()))).toEqual([
      { name: "w2", size: 5 },
    ]);
    expect(change.removedResources).toEqual(["w1"]);
    // The SotW client asked for w1 only: like EDS (not "all resources required"), nothing is sent when it goes.
    expect(await sotw.silence()).toBeUndefined();
  });

  it("a type registered without a codec is served from bytes only, also from a LinearCache", async () => {
    const blob = rawResource({ typeUrl: blobs.typeUrl, value: new Uint8Array([8, 1, 0xff, 0x7f]) }, { name: "b1" });
    const linear = createLinearCache(blobs, { resources: [blob] });
    const snapshots = createSnapshotCache();
    // The harness's own helpers expect a SnapshotCache; this test only needs its server and clients.
    const mux = createMuxCache({ caches: { [blobs.typeUrl]: linear, [CDS]: snapshots } });
    h = await startHarness({}, mux as unknown as typeof snapshots);
    const delta = h.client().delta();
    delta.send({ node: testNode("n1"), typeUrl: blobs.typeUrl, resourceNamesSubscribe: ["b1"] });
    const first = await delta.next();
    expect(hex(first.resources?.[0]?.resource?.value ?? new Uint8Array())).toBe("0801ff7f");
    deltaAck(delta, first);
    linear.setResource(rawResource({ typeUrl: blobs.typeUrl, value: new Uint8Array([1, 2, 3]) }, { name: "b1" }));
    const second = await delta.next();
    expect(hex(second.resources?.[0]?.resource?.value ?? new Uint8Array())).toBe("010203");
  });
});

describe("explicit snapshot versions", () => {
  let h: Harness;
  afterEach(async () => {
    await h.close();
  });

  it("delta resends only the resources whose content changed; SotW carries the version given", async () => {
    h = await startHarness();
    const cache = h.cache;
    h.set("n1", { Cluster: [edsCluster("a"), edsCluster("b")] }, "v1");
    const delta = h.client().delta();
    delta.send({ node: testNode("n1"), typeUrl: CDS, resourceNamesSubscribe: ["*"] });
    const first = await delta.next();
    expect((first.resources ?? []).map((r) => r.name).sort()).toEqual(["a", "b"]);
    const versionOfA = first.resources?.find((r) => r.name === "a")?.version;
    deltaAck(delta, first);
    const sotw = h.client().sotw();
    sotw.send({ node: testNode("n1"), typeUrl: CDS });
    const sotwFirst = await sotw.next();
    expect(sotwFirst.versionInfo).toBe("v1");
    sotwAck(sotw, sotwFirst);
    await cache.awaitApplied("n1", "v1", { timeoutMs: 3000 });

    // v2: "a" unchanged, "b" changed, "c" added.
    h.set(
      "n1",
      { Cluster: [edsCluster("a"), edsCluster("b", { connectTimeout: { seconds: 2 } }), edsCluster("c")] },
      "v2",
    );
    const second = await delta.next();
    expect((second.resources ?? []).map((r) => r.name).sort()).toEqual(["b", "c"]);
    deltaAck(delta, second);
    const sotwSecond = await sotw.next();
    expect(sotwSecond.versionInfo).toBe("v2");
    expect(sotwSecond.resources).toHaveLength(3); // CDS is "all resources required" on SotW
    sotwAck(sotw, sotwSecond);
    await cache.awaitApplied("n1", "v2", { timeoutMs: 3000 });

    // v3 with the same content: nothing to resend on delta.
    h.set(
      "n1",
      { Cluster: [edsCluster("a"), edsCluster("b", { connectTimeout: { seconds: 2 } }), edsCluster("c")] },
      "v3",
    );
    const third = await delta.silence(300);
    expect(third?.resources ?? []).toEqual([]);
    expect(cache.getSnapshot("n1")?.resourcesOf(CDS).get("a")?.version).toBe(versionOfA);
  });
});
