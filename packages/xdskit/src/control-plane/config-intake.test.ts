import { configKey } from "@xdskit/translate";
import { describe, expect, it } from "vitest";
import { createConfigIntake } from "./config-intake.js";

const vs = (name: string, hosts: unknown = [name]) =>
  `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: { name: ${name}, namespace: default }\nspec:\n  hosts: ${JSON.stringify(hosts)}\n  http: [{ route: [{ destination: { host: ${name} } }] }]\n`;

const keys = (intake: ReturnType<typeof createConfigIntake>) => intake.objects().map(configKey).sort();

describe("createConfigIntake", () => {
  it("serves the objects of every document; a full change drops documents it no longer lists", () => {
    const intake = createConfigIntake();
    intake.take("files", { full: true, removed: [], upserted: [{ id: "a.yaml", text: `${vs("a")}---\n${vs("b")}` }] });
    intake.take("memory", {
      full: true,
      removed: [],
      upserted: [
        {
          id: "x",
          objects: [
            JSON.parse(
              JSON.stringify({
                apiVersion: "networking.istio.io/v1",
                kind: "VirtualService",
                metadata: { name: "c" },
                spec: { hosts: ["c"] },
              }),
            ),
          ],
        },
      ],
    });
    expect(keys(intake)).toEqual(["VirtualService/default/a", "VirtualService/default/b", "VirtualService/default/c"]);
    intake.take("files", { full: true, removed: [], upserted: [] });
    expect(keys(intake)).toEqual(["VirtualService/default/c"]);
    intake.take("memory", { full: false, removed: ["x"], upserted: [] });
    expect(keys(intake)).toEqual([]);
  });

  it("rejects only the bad object of a document, keeping its last good version", () => {
    const intake = createConfigIntake();
    intake.take("files", { full: true, removed: [], upserted: [{ id: "m.yaml", text: `${vs("a")}---\n${vs("b")}` }] });
    const result = intake.take("files", {
      full: false,
      removed: [],
      upserted: [{ id: "m.yaml", file: "m.yaml", text: `${vs("a", 5)}---\n${vs("b", ["b2"])}---\n${vs("new")}` }],
    });
    expect(result.rejected.map((r) => r.key)).toEqual(["VirtualService/default/a"]);
    expect(result.diagnostics[0]).toMatchObject({
      severity: "error",
      file: "m.yaml",
      kind: "VirtualService",
      name: "a",
    });
    const byName = new Map(intake.objects().map((o) => [o.metadata.name, o]));
    expect([...byName.keys()].sort()).toEqual(["a", "b", "new"]);
    expect((byName.get("a")?.spec as { hosts: string[] }).hosts).toEqual(["a"]); // the last good version
    expect((byName.get("b")?.spec as { hosts: string[] }).hosts).toEqual(["b2"]); // the good change applied
    expect(intake.diagnostics()).toHaveLength(1);
  });

  it("keeps a document's objects when it does not parse (a half-written file) and applies a validator", () => {
    const intake = createConfigIntake((objects) =>
      objects
        .filter((o) => o.metadata.name === "forbidden")
        .map((o) => ({
          severity: "error",
          code: "TEST",
          kind: o.kind,
          name: o.metadata.name,
          namespace: "default",
          path: "metadata.name",
          message: "not allowed",
        })),
    );
    intake.take("files", { full: true, removed: [], upserted: [{ id: "m.yaml", text: vs("a") }] });
    const broken = intake.take("files", { full: false, removed: [], upserted: [{ id: "m.yaml", text: "kind: [\n" }] });
    expect(broken.rejected.map((r) => r.key)).toEqual(["m.yaml"]);
    expect(keys(intake)).toEqual(["VirtualService/default/a"]);
    const validated = intake.take("files", {
      full: false,
      removed: [],
      upserted: [{ id: "m.yaml", text: `${vs("a")}---\n${vs("forbidden")}` }],
    });
    expect(validated.rejected.map((r) => r.key)).toEqual(["VirtualService/default/forbidden"]);
    expect(keys(intake)).toEqual(["VirtualService/default/a"]);
  });
});

describe("createConfigIntake: one object in several documents", () => {
  it("serves the version from the document changed last, with a warning, like kubectl apply", () => {
    const intake = createConfigIntake();
    intake.take("files", { full: true, removed: [], upserted: [{ id: "all-v1.yaml", text: vs("reviews", ["v1"]) }] });
    intake.take("files", { full: false, removed: [], upserted: [{ id: "test-v2.yaml", text: vs("reviews", ["v2"]) }] });
    const hosts = () => intake.objects().map((o) => (o.spec as { hosts: string[] }).hosts[0]);
    expect(hosts()).toEqual(["v2"]);
    expect(intake.diagnostics()).toMatchObject([
      {
        severity: "warning",
        code: "XDS_DUPLICATE_OBJECT",
        file: "all-v1.yaml",
        message: "also defined in test-v2.yaml, which changed later and is served instead",
      },
    ]);
    intake.take("files", {
      full: false,
      removed: [],
      upserted: [{ id: "all-v1.yaml", text: vs("reviews", ["v1-again"]) }],
    });
    expect(hosts()).toEqual(["v1-again"]);
    intake.take("files", { full: false, removed: ["all-v1.yaml"], upserted: [] });
    expect(hosts()).toEqual(["v2"]);
    expect(intake.diagnostics()).toEqual([]);
  });

  it("validates only the objects an edit changed, serving the others as the same objects with their warnings", () => {
    const validated: string[] = [];
    const intake = createConfigIntake((objects) => {
      validated.push(...objects.map(configKey));
      return objects
        .filter((o) => o.metadata.name === "b")
        .map((o) => ({
          severity: "warning" as const,
          code: "IST0133",
          kind: o.kind,
          name: o.metadata.name,
          namespace: o.metadata.namespace,
          path: "spec",
          message: "a warning that stays while b is unchanged",
        }));
    });
    const text = (last: string) => `${vs("a")}---\n${vs("b")}---\n${vs("c", [last])}`;
    intake.take("files", { full: true, removed: [], upserted: [{ id: "m.yaml", text: text("c") }] });
    const first = new Map(intake.objects().map((o) => [o.metadata.name, o]));
    validated.length = 0;
    intake.take("files", { full: false, removed: [], upserted: [{ id: "m.yaml", text: text("c2") }] });
    expect(validated).toEqual(["VirtualService/default/c"]);
    const second = new Map(intake.objects().map((o) => [o.metadata.name, o]));
    expect(second.get("a")).toBe(first.get("a"));
    expect(second.get("b")).toBe(first.get("b"));
    expect(second.get("c")).not.toBe(first.get("c"));
    expect(intake.diagnostics().map((d) => `${d.code} ${d.name}`)).toEqual(["IST0133 b"]);
  });
});
