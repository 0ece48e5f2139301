import { createHash } from "node:crypto";
import { XdsKitError } from "../errors.js";
import {
  type ResourceKind,
  type ResourceOf,
  type ResourceType,
  resourceKinds,
  resourceTypeOfKind,
} from "../resource-types.js";
import { describeValue } from "../schema-check.js";
import { contentHash, isPreparedResource, type PreparedResource, prepareAt } from "./prepared-resource.js";
import { markImmutable, recordChanges } from "./responses.js";

/**
 * Resources of a snapshot by kind: plain generated messages, or already {@link PreparedResource}s (raw ones from
 * {@link rawResource} included). A type the application registered ({@link registerResourceType}) goes under its
 * own kind.
 */
export type SnapshotResources = {
  [K in ResourceKind]?: ReadonlyArray<ResourceOf<K> | PreparedResource<ResourceOf<K>>>;
} & { readonly [registeredKind: string]: ReadonlyArray<unknown> | undefined };

/** Options of {@link createSnapshot}. */
export interface SnapshotOptions {
  /** The resources, by kind. */
  resources: SnapshotResources;
  /**
   * One version for every type, as go-control-plane does. Default: a content hash per type, so equal
   * content has equal versions across restarts and replicas.
   */
  version?: string;
}

/** One type's resources in a snapshot. */
export interface SnapshotTypeEntry {
  readonly type: ResourceType;
  /** The SotW `version_info` for this type. */
  readonly version: string;
  readonly resources: ReadonlyMap<string, PreparedResource>;
}

/** An immutable, versioned set of xDS resources: everything one group of nodes should have. */
export interface Snapshot {
  /** Overall version: the one given, or a hash of every type's version. */
  readonly version: string;
  /** Types present in the snapshot (including those present with zero resources). */
  readonly types: ReadonlyMap<string, SnapshotTypeEntry>;
  /** The type's entry by type URL, or undefined when the snapshot does not hold that type. */
  entry(typeUrl: string): SnapshotTypeEntry | undefined;
  /** The type's SotW version, "" when absent. */
  versionOf(typeUrl: string): string;
  /** The type's resources by name (empty when absent). */
  resourcesOf(typeUrl: string): ReadonlyMap<string, PreparedResource>;
}

const EMPTY: ReadonlyMap<string, PreparedResource> = new Map();

/**
 * A type's content digest: the XOR of a 64-bit hash of every (name, version) it holds. XOR makes it
 * independent of order and lets an update change it without visiting the resources it does not touch.
 */
interface Digest {
  hi: number;
  lo: number;
}
const contributions = new WeakMap<PreparedResource, Digest>();
const digests = new WeakMap<SnapshotTypeEntry, Digest>();

function contributionOf(resource: PreparedResource): Digest {
  let digest = contributions.get(resource);
  if (!digest) {
    const hash = createHash("sha256").update(resource.name).update("\0").update(resource.version).digest();
    digest = { hi: hash.readUInt32BE(0), lo: hash.readUInt32BE(4) };
    contributions.set(resource, digest);
  }
  return digest;
}

function toggle(digest: Digest, resource: PreparedResource): void {
  const c = contributionOf(resource);
  digest.hi = (digest.hi ^ c.hi) >>> 0;
  digest.lo = (digest.lo ^ c.lo) >>> 0;
}

/** The type's SotW version from its digest (deterministic: equal content, equal version, on every replica). */
function typeVersion(type: ResourceType, digest: Digest): string {
  const salt = contributionOf({ name: type.typeUrl, version: "" } as PreparedResource);
  const hex = (n: number) => n.toString(16).padStart(8, "0");
  return hex((digest.hi ^ salt.hi) >>> 0) + hex((digest.lo ^ salt.lo) >>> 0);
}

/**
 * Prepares one item of a resource list, checking it fits the type's schema, belongs to the type and has a name.
 * A resource's own version stays content-derived whatever the snapshot's version: a delta client is then sent
 * only the resources whose content changed.
 */
function prepareItem(type: ResourceType, item: unknown, where: string): PreparedResource {
  const prepared = isPreparedResource(item) ? item : prepareAt(type, item, {}, where);
  if (prepared.type !== type) throw new XdsKitError("INVALID_ARGUMENT", `${where} is a prepared ${prepared.type.kind}`);
  if (!prepared.name) throw new XdsKitError("INVALID_ARGUMENT", `${where} has no name`);
  return prepared;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function invalid(message: string): XdsKitError {
  return new XdsKitError("INVALID_ARGUMENT", message);
}

function checkList(list: unknown, where: string): asserts list is readonly unknown[] {
  if (!Array.isArray(list)) throw invalid(`${where}: expected an array, got ${describeValue(list)}`);
}

function checkVersion(version: unknown, where: string): void {
  if (version !== undefined && (typeof version !== "string" || version === ""))
    throw invalid(`${where}: expected a non-empty string, got ${describeValue(version)}`);
}

function typeOfKind(kind: string, where: string): ResourceType {
  const type = resourceTypeOfKind(kind);
  if (!type)
    throw new XdsKitError(
      "INVALID_ARGUMENT",
      `${where}: unknown resource kind "${kind}" (expected one of ${resourceKinds().join(", ")})`,
    );
  return type;
}

function entryOf(
  type: ResourceType,
  resources: ReadonlyMap<string, PreparedResource>,
  digest: Digest,
  version: string | undefined,
): SnapshotTypeEntry {
  const entry = markImmutable(Object.freeze({ type, version: version ?? typeVersion(type, digest), resources }));
  digests.set(entry, digest);
  return entry;
}

function snapshotOf(types: Map<string, SnapshotTypeEntry>, version: string | undefined): Snapshot {
  return Object.freeze({
    version:
      version ??
      contentHash(
        ...[...types.values()]
          .sort((a, b) => a.type.orderRank - b.type.orderRank)
          .flatMap((e) => [e.type.typeUrl, e.version]),
      ),
    types,
    entry: (typeUrl: string) => types.get(typeUrl),
    versionOf: (typeUrl: string) => types.get(typeUrl)?.version ?? "",
    resourcesOf: (typeUrl: string) => types.get(typeUrl)?.resources ?? EMPTY,
  });
}

/**
 * Builds a snapshot, encoding each resource once. Throws {@link XdsKitError} `INVALID_ARGUMENT` when two
 * resources of one type share a name (a response must never carry a name twice, XDS-RULES R14) or a
 * resource has no name.
 */
export function createSnapshot(options: SnapshotOptions): Snapshot {
  if (!isObject(options) || !isObject(options.resources))
    throw invalid("createSnapshot: expected options { resources: { <Kind>: [ ... ] }, version? }");
  checkVersion(options.version, "createSnapshot: version");
  const types = new Map<string, SnapshotTypeEntry>();
  for (const [kind, list] of Object.entries(options.resources) as [string, readonly unknown[] | undefined][]) {
    const type = typeOfKind(kind, "createSnapshot");
    if (!list) continue;
    checkList(list, `createSnapshot: resources.${kind}`);
    const byName = new Map<string, PreparedResource>();
    const digest = { hi: 0, lo: 0 };
    list.forEach((item, index) => {
      const prepared = prepareItem(type, item, `createSnapshot: ${kind}[${index}]`);
      if (byName.has(prepared.name))
        throw new XdsKitError("INVALID_ARGUMENT", `createSnapshot: duplicate ${kind} name "${prepared.name}"`);
      byName.set(prepared.name, prepared);
      toggle(digest, prepared);
    });
    types.set(type.typeUrl, entryOf(type, byName, digest, options.version));
  }
  return snapshotOf(types, options.version);
}

/** What {@link updateSnapshot} changes: resources to add or replace (by name), and names to remove, by kind. */
export interface SnapshotChanges {
  readonly set?: SnapshotResources;
  /** Names to remove, by kind; a name the snapshot does not hold is ignored. */
  readonly remove?: { readonly [K in ResourceKind]?: readonly string[] } & {
    readonly [registeredKind: string]: readonly string[] | undefined;
  };
}

/** Options of {@link updateSnapshot}. */
export interface UpdateSnapshotOptions {
  /**
   * The version of every type the changes touch, and of the new snapshot (as createSnapshot's `version`).
   * Default: content hashes.
   */
  version?: string;
}

/**
 * A new snapshot: `snapshot` with `changes` applied; `snapshot` itself does not change. Work is proportional
 * to what changes (plus a copy of each touched type's name index), not to the snapshot's size: versions are
 * updated incrementally and the names that changed are handed to the cache, which then compares streams
 * only on those. Types the changes leave alone, or touch without changing anything, are shared with
 * `snapshot`. Throws {@link XdsKitError} `INVALID_ARGUMENT` for an unknown kind, a resource without a name, a
 * name set twice, or a name both set and removed.
 */
export function updateSnapshot(
  snapshot: Snapshot,
  changes: SnapshotChanges,
  options: UpdateSnapshotOptions = {},
): Snapshot {
  if (!isObject(snapshot) || !(snapshot.types instanceof Map))
    throw invalid("updateSnapshot: the first argument must be a snapshot (from createSnapshot)");
  if (
    !isObject(changes) ||
    (changes.set !== undefined && !isObject(changes.set)) ||
    (changes.remove !== undefined && !isObject(changes.remove))
  )
    throw invalid("updateSnapshot: expected changes { set?: { <Kind>: [ ... ] }, remove?: { <Kind>: [ names ] } }");
  checkVersion(options?.version, "updateSnapshot: version");
  for (const [kind, list] of Object.entries(changes.set ?? {}))
    if (list) checkList(list, `updateSnapshot: set.${kind}`);
  for (const [kind, names] of Object.entries(changes.remove ?? {})) {
    if (!names) continue;
    checkList(names, `updateSnapshot: remove.${kind}`);
    names.forEach((name, i) => {
      if (typeof name !== "string")
        throw invalid(
          `updateSnapshot: remove.${kind}[${i}]: expected a resource name (a string), got ${describeValue(name)}`,
        );
    });
  }
  const types = new Map(snapshot.types);
  const kinds = new Set([...Object.keys(changes.set ?? {}), ...Object.keys(changes.remove ?? {})]);
  let touched = false;
  for (const kind of kinds) {
    const type = typeOfKind(kind, "updateSnapshot");
    const before = snapshot.entry(type.typeUrl);
    const byName = new Map(before?.resources ?? EMPTY);
    const old = before && digests.get(before);
    const digest = old ? { ...old } : { hi: 0, lo: 0 };
    if (!old) for (const r of byName.values()) toggle(digest, r);
    const changed: string[] = [];
    const setNames = new Set<string>();
    const list = (changes.set as Record<string, readonly unknown[] | undefined> | undefined)?.[kind] ?? [];
    list.forEach((item, index) => {
      const prepared = prepareItem(type, item, `updateSnapshot: set.${kind}[${index}]`);
      if (setNames.has(prepared.name))
        throw new XdsKitError("INVALID_ARGUMENT", `updateSnapshot: set.${kind} names "${prepared.name}" twice`);
      setNames.add(prepared.name);
      const previous = byName.get(prepared.name);
      if (previous === prepared) return;
      byName.set(prepared.name, prepared);
      if (previous?.version === prepared.version) return;
      if (previous) toggle(digest, previous);
      toggle(digest, prepared);
      changed.push(prepared.name);
    });
    for (const name of (changes.remove as Record<string, readonly string[] | undefined> | undefined)?.[kind] ?? []) {
      if (setNames.has(name))
        throw new XdsKitError("INVALID_ARGUMENT", `updateSnapshot: ${kind} "${name}" is both set and removed`);
      const previous = byName.get(name);
      if (!previous) continue;
      byName.delete(name);
      toggle(digest, previous);
      changed.push(name);
    }
    // Nothing changed in this type (and it exists): keep sharing the old entry.
    if (before && changed.length === 0 && (options.version === undefined || options.version === before.version))
      continue;
    const entry = entryOf(type, byName, digest, options.version);
    if (before) recordChanges(before, entry, changed);
    types.set(type.typeUrl, entry);
    touched = true;
  }
  return touched ? snapshotOf(types, options.version) : snapshot;
}
