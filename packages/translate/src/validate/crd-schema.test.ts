import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../config/loader.js";
import { celStats, checkSchema, type OpenApiSchema, type SchemaProblem } from "./crd-schema.js";
import { crdSchemaTable } from "./crd-schemas.gen.js";
import { CRD_SCHEMA_ERROR, validateConfig } from "./validate-config.js";

const root = path.resolve(import.meta.dirname, "../../../..");

function structural(yaml: string): Array<[string, string]> {
  const { objects, diagnostics } = loadConfig({ file: "t.yaml", text: yaml });
  expect(diagnostics.filter((d) => d.severity === "error")).toEqual([]);
  return validateConfig(objects)
    .filter((d) => d.code === CRD_SCHEMA_ERROR)
    .map((d) => [d.path, d.message]);
}

describe("CRD schemas", () => {
  it("the generated table is what the script extracts from Istio's CRDs now", async () => {
    const script = path.join(root, "packages/translate/scripts/generate-crd-schemas.mjs");
    const { extractCrdSchemas } = (await import(script)) as {
      extractCrdSchemas(text: string): unknown;
    };
    const fresh = extractCrdSchemas(fs.readFileSync(path.join(root, "test/fixtures/istio/crd-all.gen.yaml"), "utf8"));
    expect(JSON.parse(JSON.stringify(crdSchemaTable))).toEqual(fresh);
    expect(Object.keys(crdSchemaTable.kinds)).toHaveLength(10);
  });

  it("refuses what the API server refuses: CEL rules, required fields, bounds", () => {
    const out = structural(
      [
        "apiVersion: networking.istio.io/v1",
        "kind: Gateway",
        "metadata: { name: gw }",
        "spec:",
        "  servers:",
        "  - port: { number: 0, name: http }",
        "    hosts: ['*']",
      ].join("\n"),
    );
    expect(out).toContainEqual(["spec.servers[0].port.protocol", "Required value"]);
    const vs = structural(
      [
        "apiVersion: networking.istio.io/v1",
        "kind: VirtualService",
        "metadata: { name: v }",
        "spec:",
        "  hosts: [a]",
        "  http:",
        "  - timeout: 0.5ms",
        "    route: [{ destination: { host: a } }]",
      ].join("\n"),
    );
    expect(vs).toEqual([["spec.http[0].timeout", 'Invalid value: "0.5ms": must be a valid duration greater than 1ms']]);
    const se = structural(
      "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: { name: s }\nspec:\n  hosts: [a.com]\n  ports: [{ number: 0, name: http, protocol: HTTP }]",
    );
    expect(se).toEqual([["spec.ports[0].number", "Invalid value: 0: port must be between 1-65535"]]);
    expect(celStats.evaluated).toBeGreaterThan(0);
    const ra = (uri: string) =>
      structural(
        `apiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: { name: r }\nspec:\n  jwtRules: [{ issuer: x, jwksUri: '${uri}' }]`,
      );
    expect(ra("https://example.com/keys")).toEqual([]);
    expect(ra("ftp://example.com/keys").map(([p]) => p)).toEqual(["spec.jwtRules[0].jwksUri"]);
    expect(celStats.skipped).toBe(0);
  });

  it("checks types, enums, oneOf, sizes and patterns of the OpenAPI subset", () => {
    const schema: OpenApiSchema = {
      type: "object",
      required: ["mode"],
      properties: {
        mode: { type: "string", enum: ["A", "B"] },
        list: { type: "array", maxItems: 1, items: { type: "string", pattern: "^[a-z]+$", maxLength: 3 } },
        match: {
          type: "object",
          properties: { exact: { type: "string" }, prefix: { type: "string" } },
          oneOf: [
            { not: { anyOf: [{ required: ["exact"] }, { required: ["prefix"] }] } },
            { required: ["exact"] },
            { required: ["prefix"] },
          ],
        },
        count: { type: "integer", minimum: 1, format: "int32" },
      },
    };
    const problems: SchemaProblem[] = [];
    checkSchema(
      schema,
      { mode: "C", list: ["abcd", "x1"], match: { exact: "a", prefix: "b" }, count: 0.5 },
      "spec",
      problems,
    );
    expect(problems).toEqual([
      { path: "spec.mode", message: 'Unsupported value: "C": supported values: "A", "B"' },
      { path: "spec.list", message: "Too many: 2: must have at most 1 items" },
      { path: "spec.list[0]", message: "Too long: may not be more than 3 bytes" },
      { path: "spec.list[1]", message: `Invalid value: "x1": should match '^[a-z]+$'` },
      {
        path: "spec.match",
        message: 'Invalid value: "object": must validate one and only one schema (oneOf). Found 2 valid alternatives',
      },
      { path: "spec.count", message: 'Invalid value: "number": must be of type integer' },
    ]);
    const missing: SchemaProblem[] = [];
    checkSchema(schema, {}, "spec", missing);
    expect(missing).toEqual([{ path: "spec.mode", message: "Required value" }]);
  });

  it("refuses names the API server refuses, for every kind", () => {
    const out = structural(
      "apiVersion: v1\nkind: Service\nmetadata: { name: My_Svc, namespace: Shop }\nspec: { ports: [{ port: 80 }] }",
    );
    expect(out.map(([p]) => p)).toEqual(["metadata.name", "metadata.namespace"]);
    expect(out[0]?.[1]).toMatch(/^Invalid value: "My_Svc": a lowercase RFC 1123 subdomain must consist of/);
  });
});
