// xdstp list collections (XDS-RULES R35): a `<T>Collection` resource lists its members as
// `xds.core.v3.CollectionEntry`s, each an xdstp:// locator of a member served as a resource of its own, or
// the member itself inlined. The collection is an ordinary resource of a delta-only type: a snapshot holds
// it, the cache versions it by content and serves its changes and removal like any other resource.
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import { type PreparedResource, type PrepareOptions, prepareResource } from "./cache/prepared-resource.js";
import { XdsKitError } from "./errors.js";
import { CollectionEntry } from "./gen/xds/core/v3/collection_entry.js";
import { type ResourceOf, type ResourceType, resourceTypes } from "./resource-types.js";
import { parseXdstpName, resourceLocatorOf, type XdstpName } from "./xdstp.js";

/** The list-collection kinds, each with the kind of its members. */
export interface CollectionMembers {
  ListenerCollection: "Listener";
  ClusterCollection: "Cluster";
}

/** A list-collection kind: "ListenerCollection" or "ClusterCollection". */
export type CollectionKind = keyof CollectionMembers;

/** A member inlined in a list collection (`CollectionEntry.inline_entry`). */
export interface InlineCollectionEntry<T> {
  /** The member resource, e.g. a Listener. */
  readonly inline: T;
  /**
   * The entry's name: what the client names the member, and what `#entry=<name>` locators refer to. Must match
   * `[0-9a-zA-Z_\-.~:]+` and be unique in the collection. Default: the member's own name (`Listener.name`).
   */
  readonly name?: string;
  /** The member's version. Default: a content hash of the member (equal content, equal version). */
  readonly version?: string;
}

/**
 * One entry of a list collection: an xdstp:// locator of a member served as its own resource (e.g.
 * `xdstp://mesh/envoy.config.listener.v3.Listener/edge/http`), or a member inlined.
 */
export type CollectionEntryInput<T> = string | InlineCollectionEntry<T>;

/** The pattern Envoy's API puts on inline entry names (xds.core.v3.CollectionEntry.InlineEntry.name). */
const ENTRY_NAME = /^[0-9a-zA-Z_\-.~:]+$/;

/**
 * The upstream Envoy API declares `ClusterCollection.entries` singular (`xds.core.v3.CollectionEntry entries = 1`,
 * not repeated, unlike ListenerCollection): a decoder merges a second entry into the first, so more than one
 * entry cannot be carried.
 */
const SINGLE_ENTRY: ReadonlySet<ResourceType> = new Set<ResourceType>([resourceTypes.ClusterCollection]);

/**
 * Builds a list collection named `name` (an xdstp:// name of the collection's own type, e.g.
 * `xdstp://mesh/envoy.config.listener.v3.ListenerCollection/edge`) from its entries, in the order given, as a
 * {@link PreparedResource} a snapshot can carry (`createSnapshot({ resources: { ListenerCollection: [c] } })`).
 * Its version is a content hash: any change of membership or of an inlined member is a new version.
 *
 * Throws {@link XdsKitError} `INVALID_ARGUMENT` when `type` is no list-collection type, the name is not an
 * xdstp:// name of that type, a locator names another type, an entry name is invalid or repeated, a locator is
 * listed twice, or a ClusterCollection gets more than one entry (its upstream field is singular).
 */
export function listCollection<K extends CollectionKind>(
  type: ResourceType<ResourceOf<K>, K>,
  name: string,
  entries: ReadonlyArray<CollectionEntryInput<ResourceOf<CollectionMembers[K]>>>,
  options: Omit<PrepareOptions, "name"> = {},
): PreparedResource<ResourceOf<K>> {
  const memberKind = type.collectionOf;
  if (!memberKind || !type.deltaOnly) throw invalid(`${type.kind} is not a list-collection type`);
  const member = resourceTypes[memberKind] as ResourceType;
  const collectionName = parseName(name, "");
  if (collectionName.resourceType !== type.messageName || collectionName.glob || collectionName.directives.length)
    throw invalid(
      `a ${type.kind} is named xdstp://<authority>/${type.messageName}/<id> (no glob, no #directives), got "${name}"`,
    );
  if (SINGLE_ENTRY.has(type as ResourceType) && entries.length > 1)
    throw invalid(
      `${type.messageName} holds at most one entry (the Envoy API declares its "entries" field singular); got ${entries.length}`,
    );

  const writer = new BinaryWriter();
  const seen = new Set<string>();
  for (const [index, entry] of entries.entries()) {
    const at = `entry ${index}: `;
    let encoded: CollectionEntry;
    if (typeof entry === "string") {
      const locator = parseName(entry, at);
      const referencesEntry = locator.directives.some(([key]) => key === "entry");
      const expected = referencesEntry ? type.messageName : member.messageName;
      if (locator.resourceType !== expected)
        throw invalid(
          `${at}the locator "${entry}" names a ${locator.resourceType}; members of a ${type.kind} are ` +
            `${member.messageName}s (or #entry= references into a ${type.messageName})`,
        );
      const key = `locator ${locator.source}#${locator.directives.map((d) => d.join("=")).join(",")}`;
      if (seen.has(key)) throw invalid(`${at}the locator "${entry}" is listed twice`);
      seen.add(key);
      try {
        encoded = { locator: resourceLocatorOf(entry) };
      } catch (error) {
        throw invalid(`${at}${(error as Error).message}`);
      }
    } else {
      const prepared = prepareResource(member, entry.inline);
      const entryName = entry.name ?? prepared.name;
      if (!ENTRY_NAME.test(entryName))
        throw invalid(
          `${at}the inline entry name "${entryName}" must match [0-9a-zA-Z_\\-.~:]+` +
            (entry.name === undefined ? " (it defaults to the member's own name: pass name)" : ""),
        );
      if (seen.has(`inline ${entryName}`)) throw invalid(`${at}the inline entry name "${entryName}" is used twice`);
      seen.add(`inline ${entryName}`);
      encoded = {
        inlineEntry: { name: entryName, version: entry.version ?? prepared.version, resource: prepared.any },
      };
    }
    CollectionEntry.encode(encoded, writer.uint32(10).fork()).join();
  }
  // `<T>Collection { entries = 1; }`: the same bytes for ListenerCollection's repeated field and for
  // ClusterCollection's single one, decoded into the type's own message shape.
  const resource = type.codec.decode(writer.finish());
  return prepareResource(type, resource, { ...options, name });
}

function invalid(message: string): XdsKitError {
  return new XdsKitError("INVALID_ARGUMENT", `listCollection: ${message}`);
}

function parseName(name: string, at: string): XdstpName {
  try {
    return parseXdstpName(name);
  } catch (error) {
    throw invalid(`${at}${(error as Error).message}`);
  }
}
