// Types only delta xDS serves (XDS-RULES R35: xdstp collections are delta-only). Glob collections are refused
// by name (stream-base.ts canonicalNames); list-collection types by their row of the type table, here.
import { status } from "@grpc/grpc-js";
import type { ResourceType } from "@xdskit/core";
import { StreamError } from "./stream-base.js";

/** Why a SotW request (stream, REST or Fetch*) may not ask for `type`, or undefined when it may. */
export function sotwRefusal(type: ResourceType): string | undefined {
  if (!type.deltaOnly) return undefined;
  return (
    `type_url "${type.typeUrl}" is an xdstp list collection (${type.kind}); ` +
    "collections are served over delta xDS only: subscribe with DeltaAggregatedResources"
  );
}

/** Throws StreamError INVALID_ARGUMENT when a SotW request asks for a delta-only type (R35). */
export function assertSotwType(type: ResourceType): void {
  const refusal = sotwRefusal(type);
  if (refusal) throw new StreamError(status.INVALID_ARGUMENT, refusal);
}
