// Reads multi-document YAML (and JSON) into config objects, keeping where every field was written.
// Problems become diagnostics; a bad document never stops the others from loading.
import { messageFromJson, XdsKitError } from "@xdskit/core";
import { isMap, isScalar, isSeq, LineCounter, type Node, parseAllDocuments } from "yaml";
import { checkMessageJson } from "./decode.js";
import type { ConfigDiagnostic } from "./diagnostics.js";
import { kindInfoOf, parseApiVersion } from "./kinds.js";
import type { AnyConfigObject, ObjectMeta, ObjectSource, SourcePosition } from "./model.js";

/** One file's text; `file` names it in diagnostics. */
export interface ConfigInput {
  readonly file?: string;
  readonly text: string;
}

export interface LoadResult {
  readonly objects: AnyConfigObject[];
  readonly diagnostics: ConfigDiagnostic[];
}

/** Parses every document of every input. A string is one input without a file name. */
export function loadConfig(inputs: string | ConfigInput | readonly ConfigInput[]): LoadResult {
  const list: readonly ConfigInput[] =
    typeof inputs === "string" ? [{ text: inputs }] : Array.isArray(inputs) ? inputs : [inputs as ConfigInput];
  const objects: AnyConfigObject[] = [];
  const diagnostics: ConfigDiagnostic[] = [];
  for (const [index, input] of list.entries()) {
    if (input === null || typeof input !== "object" || typeof input.text !== "string")
      throw new XdsKitError("INVALID_ARGUMENT", `loadConfig: inputs[${index}] must be { file?: string, text: string }`);
    loadText(input, objects, diagnostics);
  }
  return { objects, diagnostics };
}

function loadText(input: ConfigInput, objects: AnyConfigObject[], diagnostics: ConfigDiagnostic[]): void {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(input.text, { lineCounter, prettyErrors: false });
  const list = Array.isArray(docs) ? docs : [docs];
  const at = (offset: number): SourcePosition => {
    const { line, col } = lineCounter.linePos(offset);
    return { file: input.file, line, column: col };
  };
  for (const [documentIndex, doc] of list.entries()) {
    const docPosition = at(doc.range?.[0] ?? 0);
    if (doc.errors.length > 0) {
      for (const error of doc.errors)
        diagnostics.push({
          severity: "error",
          code: "XDS_YAML_SYNTAX",
          kind: "",
          name: "",
          path: "",
          message: error.message.split("\n")[0] ?? error.message,
          ...at(error.pos[0]),
        });
      continue;
    }
    const value: unknown = doc.toJS({ maxAliasCount: 100 });
    if (value === null || value === undefined) continue; // an empty document ("---" at the end)
    const positions = positionIndex(doc.contents as Node | null, at);
    const source = (prefix: string, json: unknown): ObjectSource => ({
      file: input.file,
      document: documentIndex,
      json,
      position: positions.get(prefix) ?? docPosition,
      positionOf: (path) => lookup(positions, prefix ? (path ? `${prefix}.${path}` : prefix) : path, docPosition),
    });
    const record = value as { kind?: unknown; items?: unknown };
    if (Array.isArray(value)) {
      // A JSON (or YAML) array of objects, as `kubectl get -o json` pipelines produce.
      for (const [i, item] of value.entries()) readObject(item, source(`[${i}]`, item), objects, diagnostics);
    } else if (record && typeof record === "object" && record.kind === "List" && Array.isArray(record.items)) {
      for (const [i, item] of record.items.entries())
        readObject(item, source(`items[${i}]`, item), objects, diagnostics);
    } else {
      readObject(value, source("", value), objects, diagnostics);
    }
  }
}

/** Reads one object; pushes it, or a diagnostic saying why not. */
function readObject(
  value: unknown,
  source: ObjectSource,
  objects: AnyConfigObject[],
  diagnostics: ConfigDiagnostic[],
): void {
  const where = (path: string) => source.positionOf(path);
  const problem = (
    path: string,
    message: string,
    code: string,
    ids: { kind?: string; name?: string; namespace?: string } = {},
  ) =>
    diagnostics.push({
      severity: "error",
      code,
      kind: ids.kind ?? "",
      name: ids.name ?? "",
      namespace: ids.namespace,
      path,
      message,
      ...where(path),
    });
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    problem("", "a configuration document must be a mapping with apiVersion, kind and metadata", "XDS_NOT_AN_OBJECT");
    return;
  }
  const body = value as Record<string, unknown>;
  const { apiVersion, kind } = body;
  if (typeof apiVersion !== "string" || typeof kind !== "string") {
    problem(
      typeof apiVersion !== "string" ? "apiVersion" : "kind",
      "apiVersion and kind must both be set (strings)",
      "XDS_MISSING_TYPE",
    );
    return;
  }
  const meta = body.metadata as Record<string, unknown> | undefined;
  const name = typeof meta?.name === "string" ? meta.name : "";
  const { group, version } = parseApiVersion(apiVersion);
  const info = kindInfoOf(group, kind);
  const namespace = info?.clusterScoped
    ? ""
    : typeof meta?.namespace === "string" && meta.namespace
      ? meta.namespace
      : "default";
  const ids = { kind, name, namespace: info?.clusterScoped ? undefined : namespace };
  if (!info || !info.versions.includes(version)) {
    diagnostics.push({
      severity: "warning",
      code: "XDS_UNKNOWN_KIND",
      ...ids,
      path: info ? "apiVersion" : "kind",
      message: info
        ? `${kind} version ${version} is not supported (supported: ${info.versions.map((v) => (group ? `${group}/${v}` : v)).join(", ")}); the object is ignored`
        : `kind ${kind} of ${apiVersion} is not read by xdskit; the object is ignored`,
      ...where(info ? "apiVersion" : "kind"),
    });
    return;
  }
  if (!meta || typeof meta !== "object" || !name) {
    problem("metadata.name", "metadata.name is required", "XDS_MISSING_NAME", ids);
    return;
  }
  const metadata: ObjectMeta = {
    name,
    namespace,
    labels: stringMap(meta.labels),
    annotations: stringMap(meta.annotations),
    creationTimestamp: typeof meta.creationTimestamp === "string" ? meta.creationTimestamp : undefined,
    generation: typeof meta.generation === "number" ? meta.generation : undefined,
    resourceVersion: typeof meta.resourceVersion === "string" ? meta.resourceVersion : undefined,
  };
  let spec: unknown;
  if (info.bodyIsSpec) {
    const { apiVersion: _a, kind: _k, metadata: _m, ...rest } = body;
    spec = rest;
  } else if (info.spec) {
    const checked = checkMessageJson(info.spec.messageName, body.spec ?? {});
    for (const p of checked.problems) {
      const path = p.path ? `spec.${p.path}` : "spec";
      diagnostics.push({
        severity: p.severity,
        code: p.severity === "error" ? "XDS_SPEC_DECODE" : "XDS_UNKNOWN_FIELD",
        ...ids,
        path,
        message: p.message,
        ...where(path),
      });
    }
    if (checked.problems.some((p) => p.severity === "error")) return;
    try {
      spec = messageFromJson(info.spec.messageName, info.spec.codec, checked.json);
    } catch (cause) {
      problem("spec", (cause as Error).message.replace(/^[\w.]+ from JSON: /, ""), "XDS_SPEC_DECODE", ids);
      return;
    }
  } else {
    spec = { ...((body.spec as object | undefined) ?? {}) };
    if (kind === "Pod") {
      const status = body.status as { podIP?: unknown } | undefined;
      if (typeof status?.podIP === "string") (spec as { podIP?: string }).podIP = status.podIP;
    }
  }
  objects.push({ apiVersion, kind, metadata, spec, source } as AnyConfigObject);
}

function stringMap(value: unknown): Record<string, string> {
  if (!value || typeof value !== "object") return {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) out[k] = String(v);
  return out;
}

/** Every written field's position, keyed by its path (`spec.http[0].route`). */
function positionIndex(root: Node | null, at: (offset: number) => SourcePosition): Map<string, SourcePosition> {
  const index = new Map<string, SourcePosition>();
  const visit = (node: unknown, path: string) => {
    if (isMap(node)) {
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
        const childPath = path ? `${path}.${key}` : key;
        const keyNode = pair.key as Node | null;
        if (keyNode?.range) index.set(childPath, at(keyNode.range[0]));
        visit(pair.value, childPath);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => {
        const childPath = `${path}[${i}]`;
        const itemNode = item as Node | null;
        if (itemNode?.range) index.set(childPath, at(itemNode.range[0]));
        visit(item, childPath);
      });
    }
  };
  visit(root, "");
  return index;
}

/** The position of `path`, or of its nearest written ancestor. */
function lookup(index: Map<string, SourcePosition>, path: string, fallback: SourcePosition): SourcePosition {
  let current = path;
  while (current) {
    const found = index.get(current);
    if (found) return found;
    const cut = Math.max(current.lastIndexOf("."), current.lastIndexOf("["));
    current = cut > 0 ? current.slice(0, cut) : "";
  }
  return fallback;
}
