// The seam between the config a control plane holds and the xDS each proxy gets. The default is Istio's
// translation (@xdskit/translate); a custom mesh plugs in its own.
import type { Node, SnapshotResources } from "@xdskit/core";
import type { AnyConfigObject, ConfigDiagnostic } from "@xdskit/translate";

export interface MeshTranslator {
  /** The whole valid config changed (objects are the full set). Returns problems found across objects. */
  update(objects: readonly AnyConfigObject[]): readonly ConfigDiagnostic[] | undefined;
  /** The resources this proxy gets now, or undefined when the translator does not know the proxy. */
  resourcesFor(node: Node): SnapshotResources | undefined;
  /**
   * Optional, for incremental translators: the node ids whose resources the last update() changed. The
   * control plane then asks only for these; without it every proxy is asked after each update.
   */
  changedProxies?(): ReadonlySet<string>;
  /** Optional: the proxy's last stream closed (an incremental translator stops tracking it). */
  disconnect?(node: Node): void;
}
