// Configuration applied from code: cp.apply(objects) / cp.delete(...).
import { XdsKitError } from "@xdskit/core";
import { Observable, Subject } from "rxjs";
import type { ConfigChange, ConfigDocument, ConfigSource } from "./config-source.js";

/** Names an object to delete: the object itself, or its kind, namespace and name. */
export interface ObjectRef {
  readonly kind: string;
  readonly metadata?: { readonly name?: string; readonly namespace?: string };
  readonly name?: string;
  readonly namespace?: string;
}

export interface MemorySource extends ConfigSource {
  /** Adds or replaces objects (matched by kind, namespace and name); returns the ids of their documents. */
  apply(objects: readonly unknown[] | unknown): string[];
  /** Removes objects (or ids returned by apply); returns the ids that existed. */
  delete(refs: readonly (ObjectRef | string)[] | ObjectRef | string): string[];
  /** What the source holds now. */
  documents(): ConfigDocument[];
}

/** `Kind/namespace/name` (namespace empty for cluster-scoped objects): the document id of an object. */
export function objectId(kind: string, namespace: string | undefined, name: string): string {
  return `${kind}/${namespace ?? ""}/${name}`;
}

function idOfObject(value: unknown, where: string): string {
  if (value === null || typeof value !== "object" || Array.isArray(value))
    throw new XdsKitError("INVALID_ARGUMENT", `${where} must be an object like { apiVersion, kind, metadata, spec }`);
  const { kind, metadata } = value as { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } };
  if (typeof kind !== "string" || kind === "")
    throw new XdsKitError("INVALID_ARGUMENT", `${where}.kind must be a string`);
  if (typeof metadata?.name !== "string" || metadata.name === "")
    throw new XdsKitError("INVALID_ARGUMENT", `${where}.metadata.name must be a non-empty string (${kind})`);
  if (metadata.namespace !== undefined && typeof metadata.namespace !== "string")
    throw new XdsKitError(
      "INVALID_ARGUMENT",
      `${where}.metadata.namespace must be a string (${kind} ${metadata.name})`,
    );
  return objectId(kind, metadata.namespace as string | undefined, metadata.name);
}

function idOfRef(ref: ObjectRef | string, where: string): string {
  if (typeof ref === "string") return ref;
  if (ref === null || typeof ref !== "object" || typeof ref.kind !== "string")
    throw new XdsKitError("INVALID_ARGUMENT", `${where} must be an id string, an object, or { kind, namespace, name }`);
  const name = ref.metadata?.name ?? ref.name;
  if (typeof name !== "string" || name === "")
    throw new XdsKitError("INVALID_ARGUMENT", `${where} names no object: give metadata.name or name (${ref.kind})`);
  return objectId(ref.kind, ref.metadata?.namespace ?? ref.namespace, name);
}

/** A source holding objects applied from code; every apply/delete is one change, emitted at once. */
export function createMemorySource(initial: readonly unknown[] = []): MemorySource {
  const held = new Map<string, ConfigDocument>();
  const subject = new Subject<ConfigChange>();

  const apply = (input: readonly unknown[] | unknown): string[] => {
    const list = Array.isArray(input) ? input : [input];
    // Check everything before changing anything: a bad object leaves the source as it was.
    const documents = list.map((object, i): ConfigDocument => {
      const id = idOfObject(object, `apply: objects[${i}]`);
      return { id, objects: [structuredClone(object)] };
    });
    for (const document of documents) held.set(document.id, document);
    if (documents.length > 0) subject.next({ full: false, upserted: documents, removed: [] });
    return documents.map((d) => d.id);
  };

  apply(initial);

  return {
    name: "memory",
    changes: new Observable<ConfigChange>((subscriber) => {
      subscriber.next({ full: true, upserted: [...held.values()], removed: [] });
      return subject.subscribe(subscriber);
    }),
    apply,
    delete(refs) {
      const list = Array.isArray(refs) ? refs : [refs];
      const ids = list.map((ref, i) => idOfRef(ref as ObjectRef | string, `delete: refs[${i}]`));
      const removed = [...new Set(ids)].filter((id) => held.delete(id));
      if (removed.length > 0) subject.next({ full: false, upserted: [], removed });
      return removed;
    },
    documents: () => [...held.values()],
  };
}
