import { describe, expect, it } from "vitest";
import { LayeredMap } from "./layered-map.js";

// A seeded generator, so a failure replays.
function random(seed: number) {
  let state = seed;
  return (below: number) => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state % below;
  };
}

describe("LayeredMap", () => {
  it("answers like a Map after every batch of changes, and earlier versions keep their contents", () => {
    const next = random(7);
    const plain = new Map<string, number>();
    for (let i = 0; i < 50; i++) plain.set(`k${i}`, i);
    let layered = LayeredMap.of(new Map(plain));
    const versions: Array<{ map: LayeredMap<string, number>; expected: Map<string, number> }> = [];
    for (let round = 0; round < 400; round++) {
      const changes: Array<[string, number | undefined]> = [];
      for (let c = 0; c < 1 + next(4); c++) {
        const key = `k${next(70)}`;
        const value = next(3) === 0 ? undefined : round * 10 + c;
        changes.push([key, value]);
        if (value === undefined) plain.delete(key);
        else plain.set(key, value);
      }
      layered = layered.with(changes);
      expect(layered.size).toBe(plain.size);
      expect(new Map(layered)).toEqual(plain);
      for (let probe = 0; probe < 5; probe++) {
        const key = `k${next(70)}`;
        expect(layered.get(key)).toBe(plain.get(key));
        expect(layered.has(key)).toBe(plain.has(key));
      }
      if (round % 50 === 0) versions.push({ map: layered, expected: new Map(plain) });
    }
    for (const { map, expected } of versions) {
      expect(new Map(map.entries())).toEqual(expected);
      expect([...map.keys()].sort()).toEqual([...expected.keys()].sort());
      expect([...map.values()].sort()).toEqual([...expected.values()].sort());
      const seen = new Map<string, number>();
      map.forEach((value, key) => {
        seen.set(key, value);
      });
      expect(seen).toEqual(expected);
    }
  });

  it("keeps a key's place when its value changes, and puts a new key last", () => {
    const map = LayeredMap.of([
      ["a", 1],
      ["b", 2],
    ]).with([
      ["a", 10],
      ["c", 3],
    ]);
    expect([...map]).toEqual([
      ["a", 10],
      ["b", 2],
      ["c", 3],
    ]);
    expect(map.with([["b", undefined]]).has("b")).toBe(false);
    expect(map.has("b")).toBe(true);
  });
});
