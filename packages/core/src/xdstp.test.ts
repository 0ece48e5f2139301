import { describe, expect, it } from "vitest";
import { canonicalResourceName, globContains, parseXdstpName } from "./xdstp.js";

describe("xdstp names", () => {
  it("R33: parses authority, type, id, context and directives; equal whatever the parameter order", () => {
    const a = "xdstp://mesh.example/envoy.config.cluster.v3.Cluster/ns/reviews?zone=a&region=eu#alt=xdstp://other/x";
    const parsed = parseXdstpName(a);
    expect(parsed).toMatchObject({
      authority: "mesh.example",
      resourceType: "envoy.config.cluster.v3.Cluster",
      id: "ns/reviews",
      glob: false,
    });
    expect(parsed.context).toEqual([
      ["region", "eu"],
      ["zone", "a"],
    ]);
    expect(parsed.directives).toEqual([["alt", "xdstp://other/x"]]);
    expect(canonicalResourceName(a)).toBe(
      canonicalResourceName("xdstp://mesh.example/envoy.config.cluster.v3.Cluster/ns/reviews?region=eu&zone=a"),
    );
    expect(canonicalResourceName("outbound|9080||reviews")).toBe("outbound|9080||reviews");
    expect(() => parseXdstpName("xdstp://auth")).toThrow(/has no resource type/);
  });

  it("R34: a /* id is a glob over the members under its path, with the same context", () => {
    const glob = parseXdstpName("xdstp://a/envoy.config.cluster.v3.Cluster/ns/*?zone=z");
    expect(glob.glob).toBe(true);
    expect(globContains(glob, "xdstp://a/envoy.config.cluster.v3.Cluster/ns/reviews?zone=z")).toBe(true);
    expect(globContains(glob, "xdstp://a/envoy.config.cluster.v3.Cluster/ns/reviews")).toBe(false);
    expect(globContains(glob, "xdstp://a/envoy.config.cluster.v3.Cluster/other/reviews?zone=z")).toBe(false);
    expect(globContains(glob, "xdstp://b/envoy.config.cluster.v3.Cluster/ns/reviews?zone=z")).toBe(false);
    expect(globContains(glob, "reviews")).toBe(false);
  });
});
