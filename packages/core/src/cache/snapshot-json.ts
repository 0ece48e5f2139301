import { XdsKitError } from "../errors.js";
import type { JsonValue } from "../proto-json.js";
import { resourceFromJson } from "../proto-json.js";
import { type ResourceKind, resourceKinds, resourceTypeOfKind } from "../resource-types.js";
import { createSnapshot, type Snapshot, type SnapshotResources } from "./snapshot.js";

/** A snapshot written as JSON (or YAML parsed to JSON): resources in proto3 JSON, by kind. */
export interface SnapshotJson {
  version?: string;
  resources: { [K in ResourceKind]?: JsonValue[] };
}

/**
 * Builds a snapshot from proto3 JSON resources (camelCase or snake_case keys, Any as `"@type"`).
 * Throws XdsKitError naming the kind, index and problem when a resource does not fit its schema.
 */
export function snapshotFromJson(json: SnapshotJson): Snapshot {
  if (typeof json !== "object" || json === null || typeof json.resources !== "object" || json.resources === null)
    throw new XdsKitError("INVALID_ARGUMENT", 'snapshotFromJson: expected { "resources": { "<Kind>": [ ... ] } }');
  const resources: Record<string, unknown[]> = {};
  for (const [kind, list] of Object.entries(json.resources)) {
    const type = resourceTypeOfKind(kind);
    if (!type)
      throw new XdsKitError(
        "INVALID_ARGUMENT",
        `snapshotFromJson: unknown kind "${kind}" (expected one of ${resourceKinds().join(", ")})`,
      );
    if (!Array.isArray(list))
      throw new XdsKitError("INVALID_ARGUMENT", `snapshotFromJson: resources.${kind} must be a list`);
    resources[kind] = list.map((item, index) => {
      try {
        return resourceFromJson(type, item);
      } catch (error) {
        throw new XdsKitError(
          "INVALID_ARGUMENT",
          `snapshotFromJson: resources.${kind}[${index}]: ${(error as Error).message}`,
          {
            cause: error,
          },
        );
      }
    });
  }
  return createSnapshot({
    resources: resources as SnapshotResources,
    ...(json.version !== undefined ? { version: json.version } : {}),
  });
}
