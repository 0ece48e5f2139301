import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "./loader.js";
import { createConfigStore } from "./store.js";

const fixtures = path.resolve(import.meta.dirname, "../../../../test/fixtures/istio");
const read = (rel: string) => ({ file: rel, text: fs.readFileSync(path.join(fixtures, rel), "utf8") });

const reviews = (subset: string, extra = "") =>
  `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: { name: reviews }\nspec:\n  hosts: [reviews]\n  http:\n  - route: [{ destination: { host: reviews, subset: ${subset} } }]${extra}`;

describe("createConfigStore", () => {
  it("accepts Bookinfo, then reports only effective changes", () => {
    const store = createConfigStore();
    const first = store.applyText([
      read("bookinfo/platform/bookinfo.yaml"),
      read("bookinfo/networking/destination-rule-all.yaml"),
    ]);
    expect(first.results.every((r) => r.status === "accepted")).toBe(true);
    expect(first.events.length).toBe(first.results.length);
    expect(first.version).toBe(1);
    expect(store.list("DestinationRule").map((o) => o.metadata.name)).toEqual([
      "details",
      "productpage",
      "ratings",
      "reviews",
    ]);
    const again = store.applyText(read("bookinfo/networking/destination-rule-all.yaml"));
    expect(again.results.map((r) => r.status)).toEqual(["unchanged", "unchanged", "unchanged", "unchanged"]);
    expect(again.events).toEqual([]);
    expect(again.version).toBe(1);
  });

  it("a rejected object never replaces the last valid version; the rest of the batch goes ahead", () => {
    const store = createConfigStore();
    store.applyText(reviews("v1"));
    const batch = store.applyText([
      { file: "bad.yaml", text: reviews("v2", "\n    redirect: { uri: /x }") },
      { file: "ok.yaml", text: reviews("v3").replace("name: reviews", "name: other").replace("[reviews]", "[other]") },
    ]);
    expect(batch.results.map((r) => [r.key, r.status])).toEqual([
      ["VirtualService/default/reviews", "rejected"],
      ["VirtualService/default/other", "accepted"],
    ]);
    expect(batch.results[0]?.diagnostics.map((d) => [d.file, d.message])).toEqual([
      ["bad.yaml", "HTTP route cannot contain both route and redirect"],
    ]);
    const kept = store.get("VirtualService/default/reviews");
    expect(kept?.kind === "VirtualService" && kept.spec.http?.[0]?.route?.[0]?.destination?.subset).toBe("v1");
    expect(batch.events.map((e) => [e.type, e.key])).toEqual([["added", "VirtualService/default/other"]]);
    expect(store.status().map((s) => [s.key, s.current])).toEqual([["VirtualService/default/reviews", false]]);

    const fixed = store.applyText(reviews("v2"));
    expect(fixed.events.map((e) => [e.type, e.previous?.kind])).toEqual([["updated", "VirtualService"]]);
    expect(store.status()).toEqual([]);
  });

  it("deletes, reports unknown keys, surfaces load problems and checks its arguments", () => {
    const { objects } = loadConfig(reviews("v1"));
    const store = createConfigStore({ objects });
    expect(store.version).toBe(1);
    const removed = store.delete(["VirtualService/default/reviews", "VirtualService/default/nope"]);
    expect(removed.results.map((r) => r.status)).toEqual(["deleted", "not-found"]);
    expect(removed.events.map((e) => e.type)).toEqual(["deleted"]);
    expect(store.list()).toEqual([]);
    const broken = store.applyText(
      "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: { name: x }\nspec: { hosts: 3 }",
    );
    expect(broken.results).toEqual([]);
    expect(broken.loadDiagnostics.map((d) => d.message)).toEqual(["3 is not a list"]);
    expect(() => store.update([{ type: "move" } as never])).toThrow(/must be "apply" or "delete"/);
    expect(() => store.apply([{ kind: "VirtualService" } as never])).toThrow(/not a config object/);
    expect(() => createConfigStore({ validate: 3 as never })).toThrow(/must be a function/);
  });

  it("takes a validator of one's own", () => {
    const store = createConfigStore({
      validate: (o) =>
        o.metadata.name.startsWith("tmp")
          ? [
              {
                severity: "error",
                code: "MINE",
                kind: o.kind,
                name: o.metadata.name,
                path: "metadata.name",
                message: "no tmp",
              },
            ]
          : [],
    });
    const { objects } = loadConfig(
      [reviews("v1"), reviews("v1").replace("name: reviews", "name: tmp1")].join("\n---\n"),
    );
    expect(store.apply(objects).results.map((r) => r.status)).toEqual(["accepted", "rejected"]);
  });
});
