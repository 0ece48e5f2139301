// Structural validation of a spec against its CRD's OpenAPI v3 schema, as the Kubernetes API server does
// before Istio ever sees the object: types, enums, required fields, oneOf/anyOf/allOf/not, sizes, patterns,
// formats, and the CEL rules (x-kubernetes-validations) evaluated with @bufbuild/cel.
import { type CelInput, CelScalar, celEnv, celFunc, celMethod, isCelError, parse, plan } from "@bufbuild/cel";
import { strings } from "@bufbuild/cel/ext";
import { RE2JS } from "@bufbuild/re2";

/** The subset of OpenAPI v3 (as Kubernetes structural schemas use it) found in Istio's CRDs. */
export interface OpenApiSchema {
  readonly type?: "object" | "array" | "string" | "integer" | "number" | "boolean";
  readonly format?: string;
  readonly properties?: Readonly<Record<string, OpenApiSchema>>;
  readonly additionalProperties?: OpenApiSchema | boolean;
  readonly items?: OpenApiSchema;
  readonly required?: readonly string[];
  readonly enum?: readonly unknown[];
  readonly oneOf?: readonly OpenApiSchema[];
  readonly anyOf?: readonly OpenApiSchema[];
  readonly allOf?: readonly OpenApiSchema[];
  readonly not?: OpenApiSchema;
  readonly maxItems?: number;
  readonly minItems?: number;
  readonly maxLength?: number;
  readonly minLength?: number;
  readonly maxProperties?: number;
  readonly minProperties?: number;
  readonly maximum?: number;
  readonly minimum?: number;
  readonly exclusiveMaximum?: boolean;
  readonly exclusiveMinimum?: boolean;
  readonly pattern?: string;
  readonly nullable?: boolean;
  readonly "x-kubernetes-int-or-string"?: boolean;
  readonly "x-kubernetes-preserve-unknown-fields"?: boolean;
  readonly "x-kubernetes-validations"?: ReadonlyArray<{ readonly rule: string; readonly message?: string }>;
  readonly [extension: string]: unknown;
}

/** `group/Kind` → version → index into `schemas` (versions usually share one schema). */
export interface CrdSchemaTable {
  readonly kinds: Readonly<Record<string, Readonly<Record<string, number>>>>;
  readonly schemas: readonly OpenApiSchema[];
}

export interface SchemaProblem {
  /** Relative to the validated value (`http[0].timeout`). */
  readonly path: string;
  readonly message: string;
}

const join = (path: string, key: string) => (path ? `${path}.${key}` : key);

function jsonType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value;
}

const shown = (value: unknown) =>
  typeof value === "string"
    ? JSON.stringify(value)
    : value !== null && typeof value === "object"
      ? `"${jsonType(value)}"`
      : String(value);

// CEL rules are compiled once per rule text; rules using functions the evaluator lacks are skipped.
// Kubernetes adds `url(string)` with URL accessors; Istio's CRDs use `url(x).getScheme()`. Here a URL is its
// string, checked when made, and getScheme reads the scheme off it.
const kubernetesUrl = [
  celFunc("url", [CelScalar.STRING], CelScalar.STRING, (text: string) => {
    if (!URL.canParse(text)) throw new Error(`URL parse error during conversion from string: ${text}`);
    return text;
  }),
  celMethod("getScheme", CelScalar.STRING, [], CelScalar.STRING, function (this: string) {
    return new URL(this).protocol.replace(/:$/, "");
  }),
];
const celEnvironment = celEnv({ funcs: [...strings, ...kubernetesUrl] });
const compiled = new Map<string, ((self: CelInput) => unknown) | null>();

function compileRule(rule: string): ((self: CelInput) => unknown) | null {
  let fn = compiled.get(rule);
  if (fn === undefined) {
    try {
      const program = plan(celEnvironment, parse(rule));
      fn = (self: CelInput) => program({ self } as never);
    } catch {
      fn = null;
    }
    compiled.set(rule, fn);
  }
  return fn;
}

/** JSON as CEL sees a structural object: maps, lists, integers as int (bigint) where the schema says integer. */
function toCel(value: unknown, schema: OpenApiSchema | undefined): CelInput {
  if (Array.isArray(value)) return value.map((item) => toCel(item, schema?.items));
  if (value !== null && typeof value === "object") {
    const map = new Map<string, CelInput>();
    for (const [key, item] of Object.entries(value)) {
      const child =
        schema?.properties?.[key] ??
        (typeof schema?.additionalProperties === "object" ? schema.additionalProperties : undefined);
      map.set(key, toCel(item, child));
    }
    return map as CelInput;
  }
  if (typeof value === "number" && schema?.type === "integer" && Number.isInteger(value)) return BigInt(value);
  return value as CelInput;
}

/** Counts of CEL rules evaluated and skipped (unsupported functions), for tests and docs. */
export const celStats = { evaluated: 0, skipped: 0 };

/** Checks `value` against `schema`; pushes every problem found. */
export function checkSchema(schema: OpenApiSchema, value: unknown, path: string, problems: SchemaProblem[]): void {
  const problem = (message: string, at = path) => problems.push({ path: at, message });
  if (value === null || value === undefined) {
    if (value === null && !schema.nullable)
      problem(`Invalid value: "null": must be of type ${schema.type ?? "object"}`);
    return;
  }
  const actual = jsonType(value);
  if (schema["x-kubernetes-int-or-string"]) {
    if (actual !== "integer" && actual !== "string") {
      problem(`Invalid value: ${shown(value)}: must be an integer or a string`);
      return;
    }
  } else if (schema.type) {
    const ok = schema.type === "number" ? actual === "number" || actual === "integer" : actual === schema.type;
    if (!ok) {
      problem(`Invalid value: "${actual}": must be of type ${schema.type}`);
      return;
    }
  }
  if (schema.enum && !schema.enum.some((e) => e === value))
    problem(
      `Unsupported value: ${shown(value)}: supported values: ${schema.enum.map((e) => JSON.stringify(e)).join(", ")}`,
    );
  if (typeof value === "string") {
    const length = [...value].length;
    if (schema.maxLength !== undefined && length > schema.maxLength)
      problem(`Too long: may not be more than ${schema.maxLength} bytes`);
    if (schema.minLength !== undefined && length < schema.minLength)
      problem(`Invalid value: ${shown(value)}: should be at least ${schema.minLength} chars long`);
    if (schema.pattern !== undefined && !patternMatches(schema.pattern, value))
      problem(`Invalid value: ${shown(value)}: should match '${schema.pattern}'`);
    if (schema.format === "date-time" && Number.isNaN(Date.parse(value)))
      problem(`Invalid value: ${shown(value)}: must be of type date-time`);
    if (schema.format === "byte" && !/^[A-Za-z0-9+/]*={0,2}$/.test(value))
      problem(`Invalid value: ${shown(value)}: must be of type byte`);
  }
  if (typeof value === "number") {
    if (schema.maximum !== undefined && (schema.exclusiveMaximum ? value >= schema.maximum : value > schema.maximum))
      problem(
        `Invalid value: ${value}: should be less than ${schema.exclusiveMaximum ? "" : "or equal to "}${schema.maximum}`,
      );
    if (schema.minimum !== undefined && (schema.exclusiveMinimum ? value <= schema.minimum : value < schema.minimum))
      problem(
        `Invalid value: ${value}: should be greater than ${schema.exclusiveMinimum ? "" : "or equal to "}${schema.minimum}`,
      );
    if (schema.format === "int32" && (value < -(2 ** 31) || value > 2 ** 31 - 1 || !Number.isInteger(value)))
      problem(`Invalid value: ${value}: must be of type int32`);
  }
  if (Array.isArray(value)) {
    if (schema.maxItems !== undefined && value.length > schema.maxItems)
      problem(`Too many: ${value.length}: must have at most ${schema.maxItems} items`);
    if (schema.minItems !== undefined && value.length < schema.minItems)
      problem(`Invalid value: ${value.length}: must have at least ${schema.minItems} items`);
    if (schema.items)
      for (const [i, item] of value.entries()) checkSchema(schema.items, item, `${path}[${i}]`, problems);
  } else if (actual === "object") {
    const record = value as Record<string, unknown>;
    const count = Object.keys(record).length;
    if (schema.maxProperties !== undefined && count > schema.maxProperties)
      problem(`Too many: ${count}: must have at most ${schema.maxProperties} items`);
    if (schema.minProperties !== undefined && count < schema.minProperties)
      problem(`Invalid value: ${count}: must have at least ${schema.minProperties} items`);
    for (const key of schema.required ?? []) if (!(key in record)) problem("Required value", join(path, key));
    for (const [key, item] of Object.entries(record)) {
      const child =
        schema.properties?.[key] ??
        (typeof schema.additionalProperties === "object" ? schema.additionalProperties : undefined);
      // Unknown fields are the loader's business (a warning there); the API server would prune them.
      if (child) checkSchema(child, item, join(path, key), problems);
    }
  }
  const valid = (sub: OpenApiSchema) => {
    const scratch: SchemaProblem[] = [];
    checkSchema(sub, value, path, scratch);
    return scratch.length === 0;
  };
  if (schema.oneOf) {
    const matching = schema.oneOf.filter(valid).length;
    if (matching !== 1)
      problem(
        `Invalid value: ${shown(value)}: must validate one and only one schema (oneOf). ${matching === 0 ? "Found none valid" : `Found ${matching} valid alternatives`}`,
      );
  }
  if (schema.anyOf && !schema.anyOf.some(valid))
    problem(`Invalid value: ${shown(value)}: must validate at least one schema (anyOf)`);
  for (const sub of schema.allOf ?? []) checkSchema(sub, value, path, problems);
  if (schema.not && valid(schema.not)) problem(`Invalid value: ${shown(value)}: must not validate the schema (not)`);
  for (const validation of schema["x-kubernetes-validations"] ?? []) {
    const fn = compileRule(validation.rule);
    if (!fn) {
      celStats.skipped++;
      continue;
    }
    let result: unknown;
    try {
      result = fn(toCel(value, schema));
    } catch (cause) {
      result = cause;
    }
    if (isCelError(result as never) || result instanceof Error) {
      // An evaluation error (for example an unbound Kubernetes-only function such as url()) is not a verdict.
      if (/unbound function|no such overload|unknown function/i.test(String((result as Error).message))) {
        celStats.skipped++;
        continue;
      }
      celStats.evaluated++;
      problem(`Invalid value: ${shown(value)}: ${validation.message ?? `failed rule: ${validation.rule}`}`);
      continue;
    }
    celStats.evaluated++;
    if (result !== true)
      problem(`Invalid value: ${shown(value)}: ${validation.message ?? `failed rule: ${validation.rule}`}`);
  }
}

const patterns = new Map<string, RE2JS | null>();

function patternMatches(pattern: string, value: string): boolean {
  let re = patterns.get(pattern);
  if (re === undefined) {
    try {
      re = RE2JS.compile(pattern);
    } catch {
      re = null;
    }
    patterns.set(pattern, re);
  }
  return re === null || re.test(value);
}
