import { describe, expect, it } from "vitest";
import { parseSpiffeId, spiffeIdOf } from "./identity.js";
import { nextRotationTime } from "./rotation.js";

describe("nextRotationTime", () => {
  const validity = { notBefore: new Date("2026-01-01T00:00:00Z"), notAfter: new Date("2026-01-02T00:00:00Z") };
  it("is half the lifetime, ±1% of it", () => {
    expect(nextRotationTime(validity, { random: () => 0.5 }).toISOString()).toBe("2026-01-01T12:00:00.000Z");
    // random 0 → -1% of 24 h (14.4 min); random → 1 → +1%.
    expect(nextRotationTime(validity, { random: () => 0 }).toISOString()).toBe("2026-01-01T11:45:36.000Z");
    expect(nextRotationTime(validity, { random: () => 1 }).toISOString()).toBe("2026-01-01T12:14:24.000Z");
    for (let i = 0; i < 100; i++) {
      const at = nextRotationTime(validity).getTime();
      expect(at).toBeGreaterThanOrEqual(Date.parse("2026-01-01T11:45:36Z"));
      expect(at).toBeLessThanOrEqual(Date.parse("2026-01-01T12:14:24Z"));
    }
  });
  it("refuses nonsense", () => {
    expect(() => nextRotationTime(validity, { fraction: 1.5 })).toThrow("rotation fraction must be in (0, 1), got 1.5");
    expect(() => nextRotationTime({ notBefore: validity.notAfter, notAfter: validity.notBefore })).toThrow(
      "certificate validity: notAfter must be after notBefore",
    );
  });
});

describe("SPIFFE ids", () => {
  it("formats and parses spiffe://<td>/ns/<ns>/sa/<sa>", () => {
    const identity = { trustDomain: "cluster.local", namespace: "default", serviceAccount: "bookinfo-reviews" };
    expect(spiffeIdOf(identity)).toBe("spiffe://cluster.local/ns/default/sa/bookinfo-reviews");
    expect(parseSpiffeId("spiffe://cluster.local/ns/default/sa/bookinfo-reviews")).toEqual(identity);
    expect(parseSpiffeId("spiffe://cluster.local/ns/default/sa/")).toBeUndefined();
    expect(parseSpiffeId("spiffe://cluster.local/default/reviews")).toBeUndefined();
    expect(() => spiffeIdOf({ ...identity, namespace: "Default" })).toThrow(
      'workload identity: namespace "Default" must be a Kubernetes name (lowercase letters, digits, "-" and ".")',
    );
  });
});
