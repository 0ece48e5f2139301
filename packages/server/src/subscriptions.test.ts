import { describe, expect, it } from "vitest";
import {
  EMPTY_SUBSCRIPTION,
  type NamesFingerprint,
  repeats,
  sharedSubscription,
  shareNameSet,
  shareSubscription,
  subscriptionOf,
  toggleName,
} from "./subscriptions.js";

describe("subscriptions", () => {
  it("subscriptionOf separates the wildcard from the names and counts what was listed", () => {
    const s = subscriptionOf(["a", "*", "b", "a"]);
    expect([...s.names]).toEqual(["a", "b"]);
    expect(s.wildcard).toBe(true);
    expect(s.listed).toBe(4);
    expect(subscriptionOf([])).toBe(EMPTY_SUBSCRIPTION);
  });

  it("the first subscription shared under a digest is the one every later stream gets", () => {
    const digest = `test-${Math.random()}`;
    expect(sharedSubscription(digest)).toBeUndefined();
    const first = subscriptionOf(["x", "y"]);
    expect(shareSubscription(digest, first)).toBe(first);
    const second = subscriptionOf(["x", "y"]);
    expect(shareSubscription(digest, second)).toBe(first);
    expect(sharedSubscription(digest)).toBe(first);
  });

  it("repeats: a request repeats a subscription only with exactly its bytes (kept as a copy)", () => {
    const bytes = Uint8Array.from([0x1a, 0x01, 0x61, 0x1a, 0x01, 0x62]);
    const s = subscriptionOf(["a", "b"], bytes);
    bytes[2] = 0x7a; // the request's buffer is reused: the subscription kept its own copy
    expect(repeats(s, Uint8Array.from([0x1a, 0x01, 0x61, 0x1a, 0x01, 0x62]))).toBe(true);
    expect(repeats(s, Uint8Array.from([0x1a, 0x01, 0x61, 0x1a, 0x01, 0x63]))).toBe(false);
    expect(repeats(s, Uint8Array.from([0x1a, 0x01, 0x61]))).toBe(false);
    expect(repeats(s, undefined)).toBe(false);
    expect(repeats(subscriptionOf(["a"]), Uint8Array.from([0x1a, 0x01, 0x61]))).toBe(false);
  });

  it("a fingerprint of names ignores their order; sets with equal names are shared, others never", () => {
    const fingerprintOf = (names: string[]) => {
      const f: NamesFingerprint = { hi: 0, lo: 0 };
      for (const name of names) toggleName(f, name);
      return f;
    };
    const ab = fingerprintOf(["a", "b"]);
    expect(fingerprintOf(["b", "a"])).toEqual(ab);
    expect(fingerprintOf(["a", "b", "c", "c"])).toEqual(ab);
    expect(fingerprintOf(["a", "c"])).not.toEqual(ab);
    const unique = `n-${Math.random()}`;
    const first = new Set(["x", unique]);
    const f = fingerprintOf([...first]);
    expect(shareNameSet(first, f)).toBe(first);
    expect(shareNameSet(new Set([unique, "x"]), f)).toBe(first);
    // A different set under the same fingerprint (a collision) is not merged with the shared one.
    const impostor = new Set(["y", unique]);
    expect(shareNameSet(impostor, f)).toBe(impostor);
    expect(shareNameSet(new Set(), { hi: 0, lo: 0 })).toBe(EMPTY_SUBSCRIPTION.names);
  });
});
