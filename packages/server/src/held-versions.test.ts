import type { PreparedResource } from "@xdskit/core";
import { markImmutable, type ResourceView } from "@xdskit/core/watcher";
import { describe, expect, it } from "vitest";
import { HeldVersions } from "./held-versions.js";

const NAMES = Array.from({ length: 12 }, (_, i) => `r${i}`);

/** A deterministic pseudo-random sequence, so a failure replays. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

function resource(name: string, version: string): PreparedResource {
  return { name, version } as PreparedResource;
}

function viewOf(entries: Iterable<[string, string]>, version = "v"): ResourceView {
  return markImmutable({ version, resources: new Map([...entries].map(([n, v]) => [n, resource(n, v)])) });
}

describe("HeldVersions", () => {
  it("reads like a Map through every mix of sets, deletes, take-ins and adoptions (against a Map model)", () => {
    for (let seed = 1; seed <= 200; seed++) {
      const next = random(seed);
      const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)] as T;
      const scopes: (ReadonlySet<string> | undefined)[] = [
        undefined,
        new Set(NAMES.slice(0, 6)),
        new Set(NAMES.filter((_, i) => i % 2 === 0)),
      ];
      let view = viewOf(NAMES.slice(0, 8).map((n) => [n, "0"]));
      const held = new HeldVersions();
      // A second client given the very same responses: it reuses what the first one's take-ins computed.
      const twin = new HeldVersions();
      const model = new Map<string, string>();
      for (let step = 0; step < 60; step++) {
        const op = next();
        if (op < 0.2) {
          // The cache moves on: some resources change, some go, some appear.
          const entries = new Map([...view.resources].map(([n, r]) => [n, r.version]));
          for (const name of NAMES) {
            const roll = next();
            if (roll < 0.15) entries.delete(name);
            else if (roll < 0.4) entries.set(name, String(step));
          }
          view = viewOf(entries, String(step));
        } else if (op < 0.45) {
          // A response of some of the view's resources, taken in within a scope.
          const scope = pick(scopes);
          const resources = [...view.resources.values()].filter(() => next() < 0.5);
          held.takeIn(resources, view, scope);
          twin.takeIn(resources, view, scope);
          for (const r of resources) model.set(r.name, r.version);
        } else if (op < 0.5) {
          held.adopt(view);
          twin.adopt(view);
          model.clear();
          for (const [n, r] of view.resources) model.set(n, r.version);
        } else if (op < 0.7) {
          const name = pick(NAMES);
          const version = pick(["0", "1", "x", ""]);
          held.set(name, version);
          twin.set(name, version);
          model.set(name, version);
        } else if (op < 0.97) {
          const name = pick(NAMES);
          const expected = model.delete(name);
          expect(held.delete(name)).toBe(expected);
          expect(twin.delete(name)).toBe(expected);
        } else {
          held.clear();
          twin.clear();
          model.clear();
        }
        for (const h of [held, twin]) {
          expect(h.size, `seed ${seed} step ${step}`).toBe(model.size);
          for (const name of NAMES) expect(h.get(name), `seed ${seed} step ${step} ${name}`).toBe(model.get(name));
          expect(new Map(h)).toEqual(model);
        }
        const missing = [...model.keys()].filter((n) => !view.resources.has(n)).sort();
        expect(held.notIn(view).sort()).toEqual(missing);
      }
    }
  });

  it("a client in sync with the newest view holds nothing of its own", () => {
    const v1 = viewOf(NAMES.map((n) => [n, "1"]));
    const held = new HeldVersions();
    held.takeIn([...v1.resources.values()], v1, undefined);
    const own = () => (held as unknown as { own?: Map<string, unknown> }).own?.size ?? 0;
    expect(own()).toBe(0);
    // One resource changes: the stream takes in just that one, and is again in sync with the new view.
    const v2 = viewOf(NAMES.map((n) => [n, n === "r3" ? "2" : "1"]));
    held.takeIn([v2.resources.get("r3") as PreparedResource], v2, undefined);
    expect(own()).toBe(0);
    expect(held.get("r3")).toBe("2");
    expect(held.size).toBe(NAMES.length);
    held.adopt(v2);
    expect(own()).toBe(0);
  });

  it("a view that changes under it (a LinearCache's) is never used as the base: it reads like a Map", () => {
    const live = new Map(NAMES.slice(0, 3).map((n) => [n, resource(n, "1")]));
    const view: ResourceView = { version: "1", resources: live };
    const held = new HeldVersions();
    held.takeIn([...live.values()], view, undefined);
    live.set("r0", resource("r0", "2")); // the cache moved on; the client still holds version 1
    expect(held.get("r0")).toBe("1");
    held.adopt(view);
    live.set("r1", resource("r1", "2"));
    expect(held.get("r1")).toBe("1");
    expect(held.size).toBe(3);
  });
});
