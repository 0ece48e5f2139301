// Golden outputs: what xdskit generates for Bookinfo (Kubernetes platform, and the no-Kubernetes platform of
// WorkloadEntries with a captureMode NONE sidecar), as proto3 JSON, compared with the files in
// packages/translate/golden/. They change only when regenerated on purpose:
//   XDSKIT_UPDATE_GOLDEN=1 npx vitest run packages/translate/src/generate/golden.test.ts
// and the diff is reviewed like code.
import fs from "node:fs";
import path from "node:path";
import { type Node, type ResourceKind, type ResourceType, resourceToJson, resourceTypes } from "@xdskit/core";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../config/loader.js";
import { buildMesh } from "../index/mesh.js";
import { generate } from "./generate.js";
import { proxyOf } from "./proxy.js";
import { PROXY_RESOURCE_KINDS } from "./resources.js";

const repo = path.resolve(import.meta.dirname, "../../../..");
const goldenDir = path.resolve(import.meta.dirname, "../../golden");
const update = process.env.XDSKIT_UPDATE_GOLDEN === "1";
const read = (rel: string) => ({ file: rel, text: fs.readFileSync(path.join(repo, rel), "utf8") });
const bookinfo = (rel: string) => `test/fixtures/istio/bookinfo/${rel}`;

interface GoldenCase {
  name: string;
  files: string[];
  proxy: string | Node;
}

const ingressNode: Node = {
  id: "router~10.0.0.99~istio-ingressgateway-7d4f.istio-system~istio-system.svc.cluster.local",
  metadata: { NAMESPACE: "istio-system", LABELS: { istio: "ingressgateway", app: "istio-ingressgateway" } },
};

const CASES: GoldenCase[] = [
  {
    name: "bookinfo-productpage-all-v1",
    files: [
      bookinfo("platform/bookinfo.yaml"),
      bookinfo("networking/destination-rule-all.yaml"),
      bookinfo("networking/virtual-service-all-v1.yaml"),
    ],
    proxy: "default/productpage-v1",
  },
  {
    name: "bookinfo-reviews-v2-jason-delay",
    files: [
      bookinfo("platform/bookinfo.yaml"),
      bookinfo("networking/destination-rule-all.yaml"),
      bookinfo("networking/virtual-service-reviews-test-v2.yaml"),
      bookinfo("networking/virtual-service-ratings-test-delay.yaml"),
    ],
    proxy: "default/reviews-v2",
  },
  {
    name: "bookinfo-productpage-80-20-abort",
    files: [
      bookinfo("platform/bookinfo.yaml"),
      bookinfo("networking/destination-rule-all.yaml"),
      bookinfo("networking/virtual-service-reviews-80-20.yaml"),
      bookinfo("networking/virtual-service-ratings-test-abort.yaml"),
    ],
    proxy: "default/productpage-v1",
  },
  {
    name: "bookinfo-ingress-gateway",
    files: [
      bookinfo("platform/bookinfo.yaml"),
      bookinfo("networking/bookinfo-gateway.yaml"),
      bookinfo("networking/destination-rule-all.yaml"),
    ],
    proxy: ingressNode,
  },
  {
    name: "bookinfo-proxyless-grpc",
    files: [
      bookinfo("platform/bookinfo.yaml"),
      bookinfo("networking/destination-rule-all.yaml"),
      bookinfo("networking/virtual-service-reviews-jason-v2-v3.yaml"),
    ],
    proxy: {
      id: "sidecar~10.0.0.7~grpc-client.default~default.svc.cluster.local",
      metadata: { NAMESPACE: "default", GENERATOR: "grpc", LABELS: { app: "client" } },
    },
  },
  {
    name: "no-kubernetes-productpage-capture-none",
    files: [
      "test/fixtures/no-kubernetes/bookinfo-vms.yaml",
      bookinfo("networking/destination-rule-all.yaml"),
      bookinfo("networking/virtual-service-reviews-80-20.yaml"),
    ],
    proxy: "default/productpage-v1",
  },
];

/** Every resource as proto3 JSON (typed configs expanded), by kind. */
export function goldenOf(files: readonly string[], who: string | Node): Record<string, unknown> {
  const loaded = loadConfig(files.map(read));
  if (loaded.diagnostics.length > 0) throw new Error(`fixtures do not load: ${JSON.stringify(loaded.diagnostics)}`);
  const mesh = buildMesh(loaded);
  const proxy = proxyOf(mesh, who);
  const resources = generate(mesh, proxy);
  const out: Record<string, unknown> = { proxy: { id: proxy.id, type: proxy.type, namespace: proxy.namespace } };
  for (const kind of PROXY_RESOURCE_KINDS) {
    const type = resourceTypes[kind as ResourceKind] as ResourceType<unknown>;
    out[kind] = (resources[kind] as readonly unknown[]).map((r) => resourceToJson(type, r));
  }
  return out;
}

describe("golden translation outputs", () => {
  it.each(CASES)("$name", ({ name, files, proxy }) => {
    const golden = goldenOf(files, proxy);
    const actual = `${JSON.stringify(golden, null, 2)}\n`;
    const file = path.join(goldenDir, `${name}.json`);
    if (update || !fs.existsSync(file)) {
      if (!update) throw new Error(`${file} is missing: run with XDSKIT_UPDATE_GOLDEN=1 to write it`);
      fs.mkdirSync(goldenDir, { recursive: true });
      fs.writeFileSync(file, actual);
    }
    // Compared as data: the files may be reformatted (biome) without changing what they say.
    expect(golden).toEqual(JSON.parse(fs.readFileSync(file, "utf8")));
  });
});
