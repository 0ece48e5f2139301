import { XdsKitError } from "../errors.js";
import { type ResourceKind, type ResourceOf, type ResourceType, resourceTypes } from "../resource-types.js";
import { contentHash, type PreparedResource, prepareResource } from "./prepared-resource.js";

/** Resources of a snapshot by kind: plain generated messages, or already {@link PreparedResource}s. */
export type SnapshotResources = {
  [K in ResourceKind]?: ReadonlyArray<ResourceOf<K> | PreparedResource<ResourceOf<K>>>;
};

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

function isPrepared(value: unknown): value is PreparedResource {
  return typeof value === "object" && value !== null && "bytes" in value && "any" in value && "type" in value;
}

/**
 * Builds a snapshot, encoding each resource once. Throws {@link XdsKitError} `INVALID_ARGUMENT` when two
 * resources of one type share a name (a response must never carry a name twice, XDS-RULES R14) or a
 * resource has no name.
 */
export function createSnapshot(options: SnapshotOptions): Snapshot {
  const types = new Map<string, SnapshotTypeEntry>();
  for (const [kind, list] of Object.entries(options.resources) as [ResourceKind, readonly unknown[]][]) {
    const type = resourceTypes[kind] as ResourceType | undefined;
    if (!type) throw new XdsKitError("INVALID_ARGUMENT", `createSnapshot: unknown resource kind "${kind}"`);
    if (!list) continue;
    const byName = new Map<string, PreparedResource>();
    list.forEach((item, index) => {
      const prepared = isPrepared(item)
        ? item
        : prepareResource(type, item, options.version !== undefined ? { version: options.version } : {});
      if (prepared.type !== type)
        throw new XdsKitError(
          "INVALID_ARGUMENT",
          `createSnapshot: ${kind}[${index}] is a prepared ${prepared.type.kind}`,
        );
      if (!prepared.name) throw new XdsKitError("INVALID_ARGUMENT", `createSnapshot: ${kind}[${index}] has no name`);
      if (byName.has(prepared.name))
        throw new XdsKitError("INVALID_ARGUMENT", `createSnapshot: duplicate ${kind} name "${prepared.name}"`);
      byName.set(prepared.name, prepared);
    });
    const version = options.version ?? typeVersion(type, byName);
    types.set(type.typeUrl, Object.freeze({ type, version, resources: byName }));
  }
  const version =
    options.version ??
    contentHash(
      ...[...types.values()]
        .sort((a, b) => a.type.orderRank - b.type.orderRank)
        .flatMap((e) => [e.type.typeUrl, e.version]),
    );
  return Object.freeze({
    version,
    types,
    entry: (typeUrl: string) => types.get(typeUrl),
    versionOf: (typeUrl: string) => types.get(typeUrl)?.version ?? "",
    resourcesOf: (typeUrl: string) => types.get(typeUrl)?.resources ?? EMPTY,
  });
}

function typeVersion(type: ResourceType, resources: ReadonlyMap<string, PreparedResource>): string {
  const names = [...resources.keys()].sort();
  return contentHash(type.typeUrl, ...names.flatMap((name) => [name, resources.get(name)?.version ?? ""]));
}
