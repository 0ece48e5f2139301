// The seam between the config a control plane holds and the xDS each proxy gets. The default is Istio's
// translation (@xdskit/translate); a custom mesh plugs in its own.
import type { Node, SnapshotResources } from "@xdskit/core";
import type { AnyConfigObject, ConfigDiagnostic } from "@xdskit/translate";

export interface MeshTranslator {
  /** The whole valid config changed (objects are the full set). Returns problems found across objects. */
  update(objects: readonly AnyConfigObject[]): readonly ConfigDiagnostic[] | undefined;
  /** The resources this proxy gets now, or undefined when the translator does not know the proxy. */
  resourcesFor(node: Node): SnapshotResources | undefined;
}
