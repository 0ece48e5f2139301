// Istio's translation as a MeshTranslator: the mesh index built once per config version, each proxy's resources
// generated as istiod would (@xdskit/translate), and cross-object analysis reported as diagnostics.
import type { Node } from "@xdskit/core";
import {
  type AnyConfigObject,
  analyzeConfig,
  buildMesh,
  type ConfigDiagnostic,
  generate,
  type Mesh,
  type MeshOptions,
  proxyOf,
} from "@xdskit/translate";
import type { MeshTranslator } from "./mesh-translator.js";

export interface IstioTranslatorOptions extends MeshOptions {
  /** Also run Istio's cross-object analysis (IST0101 unknown host/subset...) on each version. Default: true. */
  readonly analyze?: boolean;
  /** A proxy the mesh cannot place (e.g. a node id not in Istio's format): default logs nothing and serves nothing. */
  readonly onUnknownProxy?: (node: Node, error: Error) => void;
}

export interface IstioTranslator extends MeshTranslator {
  /** The mesh index of the current config version. */
  mesh(): Mesh;
}

export function createIstioTranslator(options: IstioTranslatorOptions = {}): IstioTranslator {
  const { analyze = true, onUnknownProxy, ...meshOptions } = options;
  let mesh = buildMesh([], meshOptions);
  return {
    update(objects: readonly AnyConfigObject[]): readonly ConfigDiagnostic[] {
      mesh = buildMesh(objects, meshOptions);
      return analyze ? analyzeConfig(objects) : [];
    },
    resourcesFor(node: Node) {
      try {
        return { ...generate(mesh, proxyOf(mesh, node)) };
      } catch (error) {
        onUnknownProxy?.(node, error as Error);
        return undefined;
      }
    },
    mesh: () => mesh,
  };
}
