import { status } from "@grpc/grpc-js";
import { resourceTypeList, resourceTypes } from "@xdskit/core";
import { describe, expect, it } from "vitest";
import { assertSotwType, sotwRefusal } from "./delta-only.js";
import { StreamError } from "./stream-base.js";

describe("delta-only types (R35)", () => {
  it("refuses SotW for the list-collection types only, naming the type and the way to subscribe", () => {
    for (const type of resourceTypeList) {
      expect(sotwRefusal(type), type.kind).toBeUndefined();
      expect(() => assertSotwType(type)).not.toThrow();
    }
    const LIST = resourceTypes.ListenerCollection;
    expect(sotwRefusal(LIST)).toBe(
      `type_url "${LIST.typeUrl}" is an xdstp list collection (ListenerCollection); collections are served over delta xDS only: subscribe with DeltaAggregatedResources`,
    );
    let thrown: unknown;
    try {
      assertSotwType(resourceTypes.ClusterCollection);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(StreamError);
    expect((thrown as StreamError).code).toBe(status.INVALID_ARGUMENT);
    expect((thrown as StreamError).message).toMatch(/ClusterCollection\); collections are served over delta xDS only/);
  });
});
