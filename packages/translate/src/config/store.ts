// The validated config store: changes in, the valid objects and what effectively changed out.
// A change that fails validation is rejected on its own; the last valid version of that object stays, and the
// other changes of the same batch go ahead (Galley's "the rest keeps translating").
import { XdsKitError } from "@xdskit/core";
import { validateObject } from "../validate/validate-config.js";
import type { ConfigDiagnostic } from "./diagnostics.js";
import { type ConfigInput, loadConfig } from "./loader.js";
import { type AnyConfigObject, type ConfigKey, type ConfigKind, configKey } from "./model.js";

/** One change: an object to add or replace, or the key of one to remove (`kind/namespace/name`). */
export type ConfigChange =
  | { readonly type: "apply"; readonly object: AnyConfigObject }
  | { readonly type: "delete"; readonly key: ConfigKey };

/** What a change did to the valid set. */
export type ConfigChangeStatus =
  /** Added or replaced (warnings, if any, are in the diagnostics). */
  | "accepted"
  /** Same content as the valid version: nothing changed. */
  | "unchanged"
  /** Failed validation: the previous valid version (if any) stays. */
  | "rejected"
  | "deleted"
  /** A delete of a key the store does not hold. */
  | "not-found";

export interface ConfigChangeResult {
  readonly key: ConfigKey;
  readonly type: ConfigChange["type"];
  readonly status: ConfigChangeStatus;
  readonly diagnostics: readonly ConfigDiagnostic[];
}

/** An effective change of the valid set, in the order the changes were made: what a translator consumes. */
export interface ConfigEvent {
  readonly type: "added" | "updated" | "deleted";
  readonly key: ConfigKey;
  readonly kind: ConfigKind;
  /** The new valid version (added, updated). */
  readonly object?: AnyConfigObject;
  /** The version it replaced or removed (updated, deleted). */
  readonly previous?: AnyConfigObject;
}

export interface ConfigUpdateResult {
  /** One result per change, in order. */
  readonly results: readonly ConfigChangeResult[];
  /** Only the changes that altered the valid set; empty when every change was rejected or unchanged. */
  readonly events: readonly ConfigEvent[];
  /** The store's version after the batch: it grows by one for each batch with at least one event. */
  readonly version: number;
  /** Problems of documents that could not be read into objects at all (applyText only). */
  readonly loadDiagnostics: readonly ConfigDiagnostic[];
}

/** What the store says about one key: is its latest change in force, and what was found. */
export interface ConfigObjectStatus {
  readonly key: ConfigKey;
  /** False when the latest change of this key was rejected (the valid version, if any, is an older one). */
  readonly current: boolean;
  readonly diagnostics: readonly ConfigDiagnostic[];
}

/** The valid configuration, read side: what the translator reads. */
export interface ConfigSnapshotView {
  readonly version: number;
  get(key: ConfigKey): AnyConfigObject | undefined;
  /** Valid objects, of one kind or all, in key order. */
  list<K extends ConfigKind>(kind?: K): Array<Extract<AnyConfigObject, { kind: K }>>;
}

export interface ConfigStore extends ConfigSnapshotView {
  /** Applies changes one by one: each is validated alone; a rejected one does not stop the others. */
  update(changes: readonly ConfigChange[]): ConfigUpdateResult;
  /** `update` with every object applied. */
  apply(objects: readonly AnyConfigObject[]): ConfigUpdateResult;
  /** `update` with every key deleted. */
  delete(keys: readonly ConfigKey[]): ConfigUpdateResult;
  /** Loads YAML/JSON (see loadConfig) and applies every object read. */
  applyText(inputs: string | ConfigInput | readonly ConfigInput[]): ConfigUpdateResult;
  /** The status of every key whose latest change was rejected or carried diagnostics. */
  status(): ConfigObjectStatus[];
}

/** Options of {@link createConfigStore}. */
export interface ConfigStoreOptions {
  /** Objects to start with (applied as one batch). Default: none. */
  readonly objects?: readonly AnyConfigObject[];
  /**
   * Validates one object; error diagnostics reject it. Default: Istio's schema and semantic validation
   * (validateObject). Replace it to add rules of your own.
   */
  readonly validate?: (object: AnyConfigObject) => ConfigDiagnostic[];
}

function contentOf(object: AnyConfigObject): string {
  const { labels, annotations, name, namespace } = object.metadata;
  return JSON.stringify([object.apiVersion, name, namespace, labels, annotations, object.spec]);
}

function isConfigObject(value: unknown): value is AnyConfigObject {
  const o = value as AnyConfigObject | null;
  return (
    !!o &&
    typeof o === "object" &&
    typeof o.kind === "string" &&
    typeof o.apiVersion === "string" &&
    !!o.metadata &&
    typeof o.metadata.name === "string" &&
    o.spec !== undefined
  );
}

/** Creates an empty (or pre-filled) config store. Pure: no I/O, no timers. */
export function createConfigStore(options: ConfigStoreOptions = {}): ConfigStore {
  if (options === null || typeof options !== "object")
    throw new XdsKitError("INVALID_ARGUMENT", "createConfigStore: options must be an object");
  if (options.validate !== undefined && typeof options.validate !== "function")
    throw new XdsKitError("INVALID_ARGUMENT", "createConfigStore: options.validate must be a function");
  const validate = options.validate ?? validateObject;
  const valid = new Map<ConfigKey, AnyConfigObject>();
  const statuses = new Map<ConfigKey, ConfigObjectStatus>();
  let version = 0;

  const setStatus = (key: ConfigKey, current: boolean, diagnostics: readonly ConfigDiagnostic[]) => {
    if (current && diagnostics.length === 0) statuses.delete(key);
    else statuses.set(key, { key, current, diagnostics });
  };

  function update(
    changes: readonly ConfigChange[],
    loadDiagnostics: readonly ConfigDiagnostic[] = [],
  ): ConfigUpdateResult {
    if (!Array.isArray(changes))
      throw new XdsKitError("INVALID_ARGUMENT", "ConfigStore.update: changes must be an array");
    const results: ConfigChangeResult[] = [];
    const events: ConfigEvent[] = [];
    for (const [i, change] of changes.entries()) {
      if (change?.type === "apply") {
        if (!isConfigObject(change.object))
          throw new XdsKitError("INVALID_ARGUMENT", `ConfigStore.update: changes[${i}].object is not a config object`);
        const object = change.object;
        const key = configKey(object);
        const diagnostics = validate(object);
        const previous = valid.get(key);
        if (diagnostics.some((d) => d.severity === "error")) {
          setStatus(key, false, diagnostics);
          results.push({ key, type: "apply", status: "rejected", diagnostics });
          continue;
        }
        setStatus(key, true, diagnostics);
        if (previous && contentOf(previous) === contentOf(object)) {
          results.push({ key, type: "apply", status: "unchanged", diagnostics });
          continue;
        }
        valid.set(key, object);
        events.push({ type: previous ? "updated" : "added", key, kind: object.kind, object, previous });
        results.push({ key, type: "apply", status: "accepted", diagnostics });
      } else if (change?.type === "delete") {
        if (typeof change.key !== "string")
          throw new XdsKitError("INVALID_ARGUMENT", `ConfigStore.update: changes[${i}].key must be a string`);
        const previous = valid.get(change.key);
        statuses.delete(change.key);
        if (!previous) {
          results.push({ key: change.key, type: "delete", status: "not-found", diagnostics: [] });
          continue;
        }
        valid.delete(change.key);
        events.push({ type: "deleted", key: change.key, kind: previous.kind, previous });
        results.push({ key: change.key, type: "delete", status: "deleted", diagnostics: [] });
      } else {
        throw new XdsKitError("INVALID_ARGUMENT", `ConfigStore.update: changes[${i}].type must be "apply" or "delete"`);
      }
    }
    if (events.length > 0) version++;
    return { results, events, version, loadDiagnostics };
  }

  const store: ConfigStore = {
    get version() {
      return version;
    },
    get: (key) => valid.get(key),
    list<K extends ConfigKind>(kind?: K) {
      const keys = [...valid.keys()].sort();
      const out: AnyConfigObject[] = [];
      for (const key of keys) {
        const object = valid.get(key) as AnyConfigObject;
        if (kind === undefined || object.kind === kind) out.push(object);
      }
      return out as Array<Extract<AnyConfigObject, { kind: K }>>;
    },
    update: (changes) => update(changes),
    apply: (objects) => {
      if (!Array.isArray(objects))
        throw new XdsKitError("INVALID_ARGUMENT", "ConfigStore.apply: objects must be an array");
      return update(objects.map((object) => ({ type: "apply", object })));
    },
    delete: (keys) => {
      if (!Array.isArray(keys)) throw new XdsKitError("INVALID_ARGUMENT", "ConfigStore.delete: keys must be an array");
      return update(keys.map((key) => ({ type: "delete", key })));
    },
    applyText: (inputs) => {
      const { objects, diagnostics } = loadConfig(inputs);
      return update(
        objects.map((object) => ({ type: "apply", object })),
        diagnostics,
      );
    },
    status: () => [...statuses.values()].sort((a, b) => a.key.localeCompare(b.key)),
  };
  if (options.objects) store.apply(options.objects);
  return store;
}
