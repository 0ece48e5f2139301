import { XdsKitError } from "@xdskit/core";
import { describe, expect, it } from "vitest";
import type { ConfigChange } from "./config-source.js";
import { createMemorySource } from "./memory-source.js";

const vs = (name: string, namespace = "default") => ({
  apiVersion: "networking.istio.io/v1",
  kind: "VirtualService",
  metadata: { name, namespace },
  spec: { hosts: [name] },
});

describe("createMemorySource", () => {
  it("gives a subscriber everything held, then each apply and delete as one change", () => {
    const source = createMemorySource([vs("reviews")]);
    const seen: ConfigChange[] = [];
    const subscription = source.changes.subscribe((c) => seen.push(c));
    expect(seen).toHaveLength(1);
    expect(seen[0]?.full).toBe(true);
    expect(seen[0]?.upserted.map((d) => d.id)).toEqual(["VirtualService/default/reviews"]);

    expect(source.apply([vs("ratings"), vs("reviews", "other")])).toEqual([
      "VirtualService/default/ratings",
      "VirtualService/other/reviews",
    ]);
    expect(seen[1]).toMatchObject({ full: false, removed: [] });
    expect(seen[1]?.upserted[0]?.objects).toEqual([vs("ratings")]);

    expect(source.delete([{ kind: "VirtualService", namespace: "default", name: "reviews" }, "nope"])).toEqual([
      "VirtualService/default/reviews",
    ]);
    expect(seen[2]).toEqual({ full: false, upserted: [], removed: ["VirtualService/default/reviews"] });
    expect(source.delete(vs("ratings"))).toEqual(["VirtualService/default/ratings"]);
    expect(source.documents().map((d) => d.id)).toEqual(["VirtualService/other/reviews"]);

    // deleting nothing emits nothing
    source.delete("VirtualService/default/ratings");
    expect(seen).toHaveLength(4);
    subscription.unsubscribe();
    source.apply(vs("x"));
    expect(seen).toHaveLength(4);
  });

  it("keeps its own copy: mutating an applied object later changes nothing", () => {
    const source = createMemorySource();
    const object = vs("reviews");
    source.apply(object);
    object.spec.hosts.push("mutated");
    expect(source.documents()[0]?.objects).toEqual([vs("reviews")]);
  });

  it("rejects a malformed object naming it, and applies none of the batch", () => {
    const source = createMemorySource();
    const bad = () => source.apply([vs("ok"), { kind: "VirtualService", metadata: {} }]);
    expect(bad).toThrow(XdsKitError);
    expect(bad).toThrow("apply: objects[1].metadata.name must be a non-empty string (VirtualService)");
    expect(() => source.apply([42])).toThrow("apply: objects[0] must be an object");
    expect(() => source.delete({ kind: "VirtualService" })).toThrow("delete: refs[0] names no object");
    expect(source.documents()).toEqual([]);
  });
});
