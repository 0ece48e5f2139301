import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Subscription } from "rxjs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ConfigChange } from "./config-source.js";
import { createFileSource } from "./file-source.js";

let dir: string;
let subscription: Subscription | undefined;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "xdskit-files-"));
});
afterEach(() => {
  subscription?.unsubscribe();
  subscription = undefined;
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Subscribes and returns the changes seen plus a way to wait for one that matches. */
function watch(root: string, debounceMs = 50) {
  const seen: ConfigChange[] = [];
  const errors: unknown[] = [];
  subscription = createFileSource({ path: root, debounceMs }).changes.subscribe({
    next: (c) => seen.push(c),
    error: (e) => errors.push(e),
  });
  const until = async (predicate: (c: ConfigChange) => boolean, what: string) => {
    for (let i = 0; i < 200; i++) {
      const found = seen.find(predicate);
      if (found) return found;
      if (errors.length > 0) throw errors[0];
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`no change ${what}; saw ${JSON.stringify(seen)}`);
  };
  return { seen, errors, until };
}

const ids = (c: ConfigChange) => c.upserted.map((d) => path.relative(dir, d.id));

describe("createFileSource", () => {
  it("lists the YAML/JSON files of a directory tree, skipping hidden files and editor leftovers", async () => {
    fs.mkdirSync(path.join(dir, "sub"));
    fs.writeFileSync(path.join(dir, "a.yaml"), "kind: A\n");
    fs.writeFileSync(path.join(dir, "sub", "b.json"), "{}");
    fs.writeFileSync(path.join(dir, ".hidden.yaml"), "x");
    fs.writeFileSync(path.join(dir, "notes.txt"), "x");
    fs.writeFileSync(path.join(dir, "c.yaml~"), "x");
    const { until } = watch(dir);
    const first = await until((c) => c.full, "full");
    expect(ids(first)).toEqual(["a.yaml", path.join("sub", "b.json")]);
    expect(first.upserted[0]?.text).toBe("kind: A\n");
  });

  it("reports files added, changed and removed", async () => {
    fs.writeFileSync(path.join(dir, "a.yaml"), "v: 1\n");
    const { until } = watch(dir);
    await until((c) => c.full, "full");
    fs.writeFileSync(path.join(dir, "b.yaml"), "v: b\n");
    await until((c) => !c.full && ids(c).includes("b.yaml"), "adding b.yaml");
    fs.writeFileSync(path.join(dir, "a.yaml"), "v: 2\n");
    const changed = await until((c) => c.upserted.some((d) => d.text === "v: 2\n"), "changing a.yaml");
    expect(ids(changed)).toEqual(["a.yaml"]);
    fs.rmSync(path.join(dir, "b.yaml"));
    const removed = await until((c) => c.removed.length > 0, "removing b.yaml");
    expect(removed.removed).toEqual([path.join(dir, "b.yaml")]);
  });

  it("sees an editor's atomic save (write a temporary file, rename it over the original) as one change", async () => {
    const file = path.join(dir, "mesh.yaml");
    fs.writeFileSync(file, "v: old\n");
    const { seen, until } = watch(dir);
    await until((c) => c.full, "full");
    fs.writeFileSync(path.join(dir, ".mesh.yaml.swp"), "v: new\n");
    fs.renameSync(path.join(dir, ".mesh.yaml.swp"), file);
    await until((c) => c.upserted.some((d) => d.text === "v: new\n"), "the renamed file");
    const later = seen.filter((c) => !c.full);
    expect(later.flatMap((c) => c.removed)).toEqual([]);
    expect(later.flatMap((c) => c.upserted.map((d) => d.text))).toEqual(["v: new\n"]);
  });

  it("watches a single file through its directory, renames over it included", async () => {
    const file = path.join(dir, "one.yaml");
    fs.writeFileSync(file, "v: 1\n");
    fs.writeFileSync(path.join(dir, "other.yaml"), "ignored\n");
    const { seen, until } = watch(file);
    const first = await until((c) => c.full, "full");
    expect(first.upserted.map((d) => d.id)).toEqual([file]);
    fs.writeFileSync(`${file}.tmp`, "v: 2\n");
    fs.renameSync(`${file}.tmp`, file);
    await until((c) => c.upserted.some((d) => d.text === "v: 2\n"), "the renamed file");
    fs.writeFileSync(path.join(dir, "other.yaml"), "still ignored\n");
    fs.writeFileSync(file, "v: 3\n");
    await until((c) => c.upserted.some((d) => d.text === "v: 3\n"), "the rewrite");
    expect(seen.flatMap((c) => c.upserted.map((d) => d.id)).every((id) => id === file)).toBe(true);
  });

  it("coalesces a file written in pieces into one change with the whole text", async () => {
    const file = path.join(dir, "big.yaml");
    fs.writeFileSync(file, "v: 0\n");
    const { seen, until } = watch(dir, 300);
    await until((c) => c.full, "full");
    const fd = fs.openSync(file, "w"); // truncates: a reader now would see an empty file
    fs.writeSync(fd, "a: 1\n");
    fs.writeSync(fd, "b: 2\n");
    fs.closeSync(fd);
    await until((c) => c.upserted.some((d) => d.text === "a: 1\nb: 2\n"), "the whole file");
    expect(seen.filter((c) => !c.full).flatMap((c) => c.upserted.map((d) => d.text))).toEqual(["a: 1\nb: 2\n"]);
  });

  it("fails with a clear error when the path does not exist", async () => {
    const { errors } = watch(path.join(dir, "missing"));
    for (let i = 0; i < 100 && errors.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(String(errors[0])).toContain(`config path ${path.join(dir, "missing")} does not exist`);
  });

  it("rejects bad options at the door", () => {
    expect(() => createFileSource({ path: "" })).toThrow("options.path");
    expect(() => createFileSource({ path: dir, debounceMs: -1 })).toThrow("debounceMs must be >= 0");
  });
});
