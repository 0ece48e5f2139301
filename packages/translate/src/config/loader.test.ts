import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "./loader.js";

const fixtures = path.resolve(import.meta.dirname, "../../../../test/fixtures/istio");
const read = (rel: string) => ({ file: rel, text: fs.readFileSync(path.join(fixtures, rel), "utf8") });

describe("loadConfig", () => {
  it("reads Bookinfo's platform YAML: Services, ServiceAccounts and Deployments with their positions", () => {
    const { objects, diagnostics } = loadConfig(read("bookinfo/platform/bookinfo.yaml"));
    expect(diagnostics).toEqual([]);
    const services = objects.filter((o) => o.kind === "Service").map((o) => o.metadata.name);
    expect(services).toEqual(["details", "ratings", "reviews", "productpage"]);
    const reviewsV2 = objects.find((o) => o.kind === "Deployment" && o.metadata.name === "reviews-v2");
    expect(reviewsV2?.kind === "Deployment" && reviewsV2.spec.template?.metadata?.labels).toEqual({
      app: "reviews",
      version: "v2",
    });
    expect(reviewsV2?.source?.position.line).toBeGreaterThan(1);
    expect(reviewsV2?.source?.positionOf("spec.template.spec.serviceAccountName").line).toBeGreaterThan(
      reviewsV2?.source?.position.line ?? 0,
    );
  });

  it("decodes Istio specs into the generated messages (Durations, percentages, subsets)", () => {
    const { objects, diagnostics } = loadConfig([
      read("bookinfo/networking/virtual-service-ratings-test-delay.yaml"),
      read("bookinfo/networking/destination-rule-all.yaml"),
    ]);
    expect(diagnostics).toEqual([]);
    const ratings = objects.find((o) => o.kind === "VirtualService" && o.metadata.name === "ratings");
    if (ratings?.kind !== "VirtualService") throw new Error("no ratings VirtualService");
    expect(ratings.spec.http?.[0]?.fault?.delay?.fixedDelay).toEqual({ seconds: 7, nanos: 0 });
    expect(ratings.spec.http?.[0]?.match?.[0]?.headers?.["end-user"]?.exact).toBe("jason");
    const reviews = objects.find((o) => o.kind === "DestinationRule" && o.metadata.name === "reviews");
    expect(reviews?.kind === "DestinationRule" && reviews.spec.subsets?.map((s) => s.name)).toEqual(["v1", "v2", "v3"]);
  });

  it("reports unknown kinds and bad specs as diagnostics with file and line, and keeps the rest", () => {
    const text = [
      "apiVersion: example.com/v1\nkind: Widget\nmetadata: { name: w }",
      "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: { name: bad }\nspec:\n  hosts: [a]\n  http:\n  - timeout: banana",
      "apiVersion: v1\nkind: Service\nmetadata: { name: ok, namespace: shop }\nspec: { ports: [{ port: 80 }] }",
    ].join("\n---\n");
    const { objects, diagnostics } = loadConfig({ file: "mesh.yaml", text });
    expect(objects.map((o) => `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`)).toEqual(["Service/shop/ok"]);
    expect(diagnostics.map((d) => [d.severity, d.code, d.kind, d.file, d.line])).toEqual([
      ["warning", "XDS_UNKNOWN_KIND", "Widget", "mesh.yaml", 2],
      ["error", "XDS_SPEC_DECODE", "VirtualService", "mesh.yaml", 8],
    ]);
    expect(diagnostics[1]?.message).toContain("banana");
  });
});
