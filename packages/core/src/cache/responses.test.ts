import { describe, expect, it } from "vitest";
import { resourceTypes } from "../resource-types.js";
import type { DeltaResponse, ResourceView, SotwResponse, WatchRequest } from "./config-watcher.js";
import type { PreparedResource } from "./prepared-resource.js";
import { changedBetween, deltaResponseFrom, markImmutable, sotwResponseFrom } from "./responses.js";

const EDS = resourceTypes.ClusterLoadAssignment.typeUrl;
const NAMES = Array.from({ length: 10 }, (_, i) => `e${i}`);

function view(entries: Map<string, string>, version: string): ResourceView {
  return markImmutable({
    version,
    resources: new Map([...entries].map(([name, v]) => [name, { name, version: v } as PreparedResource])),
  });
}

const summary = (r: SotwResponse | DeltaResponse | undefined) =>
  r && {
    resources: r.resources.map((x) => `${x.name}@${x.version}`).sort(),
    removed: "removed" in r ? [...r.removed] : [],
  };

describe("responses to a stream holding exactly the view a change started from (heldView)", () => {
  it("are what examining every changed name against what it holds gives (SotW and delta, random changes)", () => {
    let state = 11;
    const next = () => {
      state = (state * 1103515245 + 12345) % 2 ** 31;
      return state / 2 ** 31;
    };
    for (let round = 0; round < 300; round++) {
      const before = new Map<string, string>();
      for (const name of NAMES) if (next() < 0.7) before.set(name, "1");
      const after = new Map(before);
      for (const name of NAMES) {
        const roll = next();
        if (roll < 0.2) after.delete(name);
        else if (roll < 0.5) after.set(name, "2");
      }
      const v1 = view(before, `a${round}`);
      const v2 = view(after, `b${round}`);
      const wildcard = next() < 0.3;
      const names = new Set(wildcard ? [] : NAMES.filter(() => next() < 0.6));
      const scope = wildcard ? undefined : names;
      const known = new Map([...before].filter(([name]) => wildcard || names.has(name)));
      const request: WatchRequest = {
        streamId: 1,
        node: { id: "n" },
        typeUrl: EDS,
        wildcard,
        names,
        known,
        responded: true,
        syncedView: v1,
      };
      const held = { ...request, heldView: scope ? { view: v1, scope } : { view: v1 } };
      const changed = changedBetween(v1, v2);
      expect(summary(sotwResponseFrom(v2, held, changed))).toEqual(summary(sotwResponseFrom(v2, request, changed)));
      expect(summary(deltaResponseFrom(v2, held, changed))).toEqual(summary(deltaResponseFrom(v2, request, changed)));
    }
  });
});

describe("a delta stream's first response", () => {
  const initial = (wildcard: boolean, names: string[]): WatchRequest => ({
    streamId: 1,
    node: { id: "n" },
    typeUrl: EDS,
    wildcard,
    names: new Set(names),
    known: new Map(),
    responded: false,
  });
  const all = new Map(NAMES.map((name) => [name, "1"]));

  it("is one object for every stream that gets the whole of an immutable view", () => {
    const v = view(all, "v1");
    const first = deltaResponseFrom(v, initial(true, []));
    expect(summary(first)?.resources).toHaveLength(NAMES.length);
    expect(deltaResponseFrom(v, initial(true, []))).toBe(first);
    expect(deltaResponseFrom(v, initial(false, [...NAMES].reverse()))).toBe(first);
  });

  it("is a stream's own when it gets part of the view, reports a missing name, or the view is live", () => {
    const v = view(all, "v1");
    const shared = deltaResponseFrom(v, initial(true, []));
    const part = deltaResponseFrom(v, initial(false, ["e1", "e2"]));
    expect(part).not.toBe(shared);
    expect(summary(part)?.resources).toEqual(["e1@1", "e2@1"]);
    const missing = deltaResponseFrom(v, initial(false, [...NAMES, "gone"]));
    expect(missing).not.toBe(shared);
    expect(summary(missing)).toEqual({ resources: summary(shared)?.resources, removed: ["gone"] });
    const live: ResourceView = { version: "v1", resources: v.resources };
    const a = deltaResponseFrom(live, initial(true, []));
    expect(a).not.toBe(deltaResponseFrom(live, initial(true, [])));
    expect(summary(a)).toEqual(summary(shared));
  });
});
