// generate(mesh, proxy): the xDS resources istiod would send that proxy, as plain core messages that
// createSnapshot takes unchanged. Proxies with the same view get the same objects.
import { XdsKitError } from "@xdskit/core";
import type { LoadResult } from "../config/loader.js";
import type { AnyConfigObject } from "../config/model.js";
import { asMesh, type Mesh } from "../index/mesh.js";
import { gatewayResources } from "./gateway.js";
import type { MeshProxy } from "./proxy.js";
import { proxylessResources } from "./proxyless.js";
import type { ProxyResources } from "./resources.js";
import { sidecarResources } from "./sidecar.js";

export function generate(meshInput: Mesh | LoadResult | readonly AnyConfigObject[], proxy: MeshProxy): ProxyResources {
  const mesh = asMesh(meshInput);
  if (!proxy || typeof proxy !== "object" || typeof proxy.namespace !== "string")
    throw new XdsKitError("INVALID_ARGUMENT", "generate: expected a MeshProxy from proxyOf(mesh, ...)");
  switch (proxy.type) {
    case "router":
      return gatewayResources(mesh, proxy);
    case "proxyless":
      return proxylessResources(mesh, proxy);
    case "sidecar":
      return sidecarResources(mesh, proxy);
    default:
      throw new XdsKitError("INVALID_ARGUMENT", `generate: unknown proxy type "${String((proxy as MeshProxy).type)}"`);
  }
}
