import { describe, expect, it } from "vitest";
import { EMPTY_SUBSCRIPTION, sharedSubscription, shareSubscription, subscriptionOf } from "./subscriptions.js";

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
});
