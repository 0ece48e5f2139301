import { describe, expect, it } from "vitest";
import { messageNameOf, resourceTypeList, resourceTypeOf, resourceTypes } from "./resource-types.js";

describe("resource type table", () => {
  it("has one entry per type URL, each naming its own message", () => {
    const urls = resourceTypeList.map((t) => t.typeUrl);
    expect(new Set(urls).size).toBe(urls.length);
    for (const type of resourceTypeList) {
      expect(type.typeUrl).toBe(`type.googleapis.com/${type.messageName}`);
      expect(resourceTypeOf(type.typeUrl)).toBe(type);
      expect(messageNameOf(type.typeUrl)).toBe(type.messageName);
    }
    expect(resourceTypeOf("type.googleapis.com/envoy.config.cluster.v3.Nope")).toBeUndefined();
  });

  it("marks only LDS and CDS as all-resources-required in SotW (R12)", () => {
    const required = resourceTypeList.filter((t) => t.sotwAllRequired).map((t) => t.service);
    expect(required.sort()).toEqual(["CDS", "LDS"]);
  });

  it("orders clusters, endpoints, listeners, routes, virtual hosts for make-before-break (R18)", () => {
    const order = resourceTypeList.map((t) => t.service);
    const rank = (s: string) => order.indexOf(s);
    expect(rank("CDS")).toBeLessThan(rank("EDS"));
    expect(rank("EDS")).toBeLessThan(rank("LDS"));
    expect(rank("LDS")).toBeLessThan(rank("RDS"));
    expect(rank("RDS")).toBeLessThan(rank("VHDS"));
    expect(rank("SDS")).toBeLessThan(rank("CDS"));
  });

  it("names resources the way clients subscribe to them", () => {
    expect(resourceTypes.ClusterLoadAssignment.nameOf({ clusterName: "outbound|9080||reviews" })).toBe(
      "outbound|9080||reviews",
    );
    expect(resourceTypes.Listener.nameOf({ name: "0.0.0.0_9080" })).toBe("0.0.0.0_9080");
  });
});
