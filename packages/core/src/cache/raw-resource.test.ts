import { describe, expect, it } from "vitest";
import { edsCluster } from "../../../../test/fixtures/resources.js";
import { XdsKitError } from "../errors.js";
import { Cluster } from "../gen/envoy/config/cluster/v3/cluster.js";
import { registerResourceType, resourceTypeOf, resourceTypes } from "../resource-types.js";
import { prepareResource, rawResource } from "./prepared-resource.js";
import { createSnapshot } from "./snapshot.js";

function refusal(fn: () => unknown): XdsKitError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(XdsKitError);
    return error as XdsKitError;
  }
  throw new Error("expected a refusal, got none");
}

const CDS = resourceTypes.Cluster.typeUrl;

describe("rawResource", () => {
  it("keeps the bytes, reads the name from them and versions them as a prepared message with those bytes", () => {
    const bytes = Cluster.encode(edsCluster("a")).finish();
    const raw = rawResource({ typeUrl: CDS, value: bytes });
    expect(raw.raw).toBe(true);
    expect(raw.bytes).toBe(bytes);
    expect(raw.any).toEqual({ typeUrl: CDS, value: bytes });
    expect(raw.name).toBe("a");
    expect(raw.version).toBe(prepareResource(resourceTypes.Cluster, edsCluster("a")).version);
    expect((raw.resource as Cluster).name).toBe("a"); // decoded on first read
    expect(rawResource({ typeUrl: CDS, value: bytes }, { name: "b", version: "7" })).toMatchObject({
      name: "b",
      version: "7",
    });
    const snapshot = createSnapshot({ resources: { Cluster: [raw] } });
    expect(snapshot.resourcesOf(CDS).get("a")).toBe(raw);
  });

  it("refuses what it cannot serve, naming the problem", () => {
    expect(
      refusal(() => rawResource({ typeUrl: "type.googleapis.com/example.Nope", value: new Uint8Array() })),
    ).toMatchObject({
      code: "UNKNOWN_TYPE_URL",
      message:
        'rawResource: xdskit does not serve "type.googleapis.com/example.Nope" (register it with registerResourceType)',
    });
    expect(refusal(() => rawResource({ typeUrl: CDS, value: new Uint8Array([0x0a, 0x05, 0x61]) }))).toMatchObject({
      code: "DECODE_FAILED",
    });
    expect(refusal(() => rawResource({ typeUrl: CDS, value: new Uint8Array() })).message).toBe(
      "rawResource: a Cluster given as bytes needs options.name",
    );
    expect(refusal(() => rawResource({ typeUrl: CDS, value: "abc" } as never)).message).toBe(
      "rawResource: expected { typeUrl: string, value: Uint8Array } (a type URL and the message's bytes), got an object",
    );
  });

  it("refuses a raw resource listed under another kind", () => {
    const raw = rawResource({ typeUrl: CDS, value: Cluster.encode(edsCluster("a")).finish() });
    expect(refusal(() => createSnapshot({ resources: { Listener: [raw] } })).message).toBe(
      "createSnapshot: Listener[0] is a prepared Cluster",
    );
  });
});

describe("registerResourceType", () => {
  const blob = registerResourceType({ typeUrl: "type.googleapis.com/xdskit.unit.v1.Blob", kind: "UnitBlob" });

  it("makes the type known by URL and kind; without a codec its resources come as bytes only", () => {
    expect(resourceTypeOf(blob.typeUrl)).toBe(blob);
    expect(blob).toMatchObject({
      kind: "UnitBlob",
      messageName: "xdskit.unit.v1.Blob",
      deltaOnly: false,
      restPath: undefined,
    });
    expect(blob.orderRank).toBeGreaterThan(resourceTypes.VirtualHost.orderRank);
    const raw = rawResource({ typeUrl: blob.typeUrl, value: new Uint8Array([1]) }, { name: "x" });
    expect(raw.resource).toBeUndefined();
    const snapshot = createSnapshot({ resources: { UnitBlob: [raw] } });
    expect(snapshot.resourcesOf(blob.typeUrl).get("x")).toBe(raw);
    expect(refusal(() => createSnapshot({ resources: { UnitBlob: [{ name: "y" }] } })).message).toBe(
      "type.googleapis.com/xdskit.unit.v1.Blob was registered without a codec: give its resources as bytes, with rawResource({ typeUrl, value }, { name })",
    );
  });

  it("refuses a type URL or kind already in use, and a type URL without a message name", () => {
    expect(refusal(() => registerResourceType({ typeUrl: CDS })).message).toBe(
      "registerResourceType: type.googleapis.com/envoy.config.cluster.v3.Cluster is already served",
    );
    expect(
      refusal(() => registerResourceType({ typeUrl: "type.googleapis.com/x.y.Other", kind: "Cluster" })).message,
    ).toBe('registerResourceType: kind "Cluster" is already in use or empty');
    expect(refusal(() => registerResourceType({ typeUrl: "Widget" })).message).toBe(
      'registerResourceType: typeUrl must be "<host>/<full message name>", e.g. "type.googleapis.com/example.v1.Widget", got "Widget"',
    );
  });
});
