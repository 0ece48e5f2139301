import { describe, expect, it } from "vitest";
import { readWorkloads } from "./workloads.js";

describe("readWorkloads", () => {
  it("finds each Bookinfo workload with its addresses and application port", () => {
    const workloads = readWorkloads(new URL("./mesh/platform.yaml", import.meta.url).pathname);
    expect(workloads.map((w) => w.name)).toEqual([
      "productpage-v1",
      "details-v1",
      "reviews-v1",
      "reviews-v2",
      "reviews-v3",
      "ratings-v1",
    ]);
    expect(workloads[3]).toEqual({
      name: "reviews-v2",
      app: "reviews",
      version: "v2",
      serviceAccount: "bookinfo-reviews",
      ip: "127.0.10.4",
      egressIp: "127.0.20.4",
      appPort: 19083,
    });
  });
});
