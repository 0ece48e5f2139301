import fs from "node:fs";
import { loadConfig } from "@xdskit/translate";
import { describe, expect, it } from "vitest";
import { createIstioTranslator } from "./istio-translator.js";

const platform = new URL("../bookinfo/mesh/platform.yaml", import.meta.url).pathname;

describe("createIstioTranslator", () => {
  it("generates a connecting node's resources as istiod would, and nothing for a node it cannot place", () => {
    const unknown: string[] = [];
    const translator = createIstioTranslator({
      onUnknownProxy: (node, error) => void unknown.push(`${node.id}: ${error.message}`),
    });
    const { objects } = loadConfig({ file: platform, text: fs.readFileSync(platform, "utf8") });
    expect(translator.update(objects)).toEqual([]);
    const resources = translator.resourcesFor({
      id: "sidecar~127.0.10.4~reviews-v2.default~default.svc.cluster.local",
      metadata: {
        NAMESPACE: "default",
        LABELS: { app: "reviews", version: "v2" },
        SERVICE_ACCOUNT: "bookinfo-reviews",
      },
    });
    expect(resources?.Listener?.map((l) => (l as { name?: string }).name)).toEqual(
      expect.arrayContaining(["127.0.10.4_9080", "127.0.20.4_9080"]),
    );
    expect(resources?.Cluster?.map((c) => (c as { name?: string }).name)).toContain(
      "outbound|9080||ratings.default.svc.cluster.local",
    );
    expect(translator.resourcesFor({ id: "not-istio" })).toBeUndefined();
    expect(unknown[0]).toMatch(/^not-istio: proxyOf: node id "not-istio" is not/);
    expect(translator.mesh().registry.workloads).toHaveLength(6);
  });
});
