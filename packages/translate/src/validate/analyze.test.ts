import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../config/loader.js";
import { analyzeConfig } from "./analyze.js";

const fixtures = path.resolve(import.meta.dirname, "../../../../test/fixtures/istio");
const read = (rel: string) => ({ file: rel, text: fs.readFileSync(path.join(fixtures, rel), "utf8") });

function analyze(...inputs: Array<{ file: string; text: string }>) {
  const { objects, diagnostics } = loadConfig(inputs);
  expect(diagnostics.filter((d) => d.severity === "error")).toEqual([]);
  return analyzeConfig(objects).map((d) => [d.code, `${d.kind} ${d.namespace}/${d.name}`, d.path, d.message]);
}

const doc = (file: string, text: string) => ({ file, text });

describe("analyzeConfig", () => {
  it("finds nothing wrong with Bookinfo's platform, its DestinationRules and a v1 routing", () => {
    expect(
      analyze(
        read("bookinfo/platform/bookinfo.yaml"),
        read("bookinfo/networking/destination-rule-reviews.yaml"),
        read("bookinfo/networking/virtual-service-reviews-jason-v2-v3.yaml"),
      ),
    ).toEqual([]);
  });

  it("IST0101: unknown host, unknown subset, unknown gateway (with IST0132 for the hosts it cannot serve)", () => {
    const out = analyze(
      read("bookinfo/platform/bookinfo.yaml"),
      doc(
        "vs.yaml",
        [
          "apiVersion: networking.istio.io/v1",
          "kind: VirtualService",
          "metadata: { name: r }",
          "spec:",
          "  hosts: [reviews]",
          "  gateways: [mesh, missing-gw]",
          "  http:",
          "  - route: [{ destination: { host: nowhere } }, { destination: { host: reviews, subset: v9 }, weight: 1 }]",
        ].join("\n"),
      ),
    );
    expect(out).toEqual([
      [
        "IST0101",
        "VirtualService default/r",
        "spec.http[0].route[0].destination.host",
        'Referenced host not found: "nowhere"',
      ],
      [
        "IST0101",
        "VirtualService default/r",
        "spec.http[0].route[1].destination.subset",
        'Referenced host+subset in destinationrule not found: "reviews+v9"',
      ],
      ["IST0101", "VirtualService default/r", "spec.gateways[1]", 'Referenced gateway not found: "missing-gw"'],
      [
        "IST0132",
        "VirtualService default/r",
        "spec.gateways[1]",
        "one or more host [reviews] defined in VirtualService default/r not found in Gateway default/missing-gw.",
      ],
    ]);
  });

  it("IST0109: two VirtualServices for one host on the mesh, each reported once", () => {
    const vs = (name: string, host: string) =>
      `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: { name: ${name} }\nspec:\n  hosts: [${host}]\n  http: [{ route: [{ destination: { host: ratings } }] }]`;
    const out = analyze(
      read("bookinfo/platform/bookinfo.yaml"),
      doc("a.yaml", vs("a", "ratings")),
      doc("b.yaml", vs("b", "ratings.default.svc.cluster.local")),
    );
    expect(out.map((row) => [row[0], row[1], row[2]])).toEqual([
      ["IST0109", "VirtualService default/a", "metadata.name"],
      ["IST0109", "VirtualService default/b", "metadata.name"],
    ]);
    expect(out[0]?.[3]).toBe(
      "The VirtualServices default/a,default/b associated with mesh gateway define the same host */ratings.default.svc.cluster.local which can lead to undefined behavior. This can be fixed by merging the conflicting VirtualServices into a single resource.",
    );
  });

  it("IST0173 and IST0174: subsets no workload carries, DestinationRules for unknown hosts", () => {
    const out = analyze(
      read("bookinfo/platform/bookinfo.yaml"),
      read("bookinfo/networking/destination-rule-all.yaml"),
      doc(
        "dr.yaml",
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: { name: x }\nspec: { host: unknown.example.com }",
      ),
    );
    expect(out.map((row) => [row[0], row[1], row[2]])).toEqual([
      ["IST0173", "DestinationRule default/ratings", "spec.subsets[2]"],
      ["IST0173", "DestinationRule default/ratings", "spec.subsets[3]"],
      ["IST0174", "DestinationRule default/x", "spec.host"],
    ]);
    expect(out[0]?.[3]).toBe(
      "The Subset v2-mysql defined in the DestinationRule does not select any pods. Which may lead to 503 UH (NoHealthyUpstream).",
    );
  });

  it("IST0118 and IST0112: unnamed protocol ports, a multi-port service without a destination port", () => {
    const out = analyze(
      doc(
        "svc.yaml",
        [
          "apiVersion: v1\nkind: Service\nmetadata: { name: shop }\nspec: { ports: [{ name: web, port: 80, targetPort: 8080 }, { name: http-admin, port: 81 }, { name: db, port: 3306 }] }",
          "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: { name: shop }\nspec:\n  hosts: [shop]\n  http: [{ route: [{ destination: { host: shop } }] }]",
        ].join("\n---\n"),
      ),
    );
    expect(out).toEqual([
      [
        "IST0112",
        "VirtualService default/shop",
        "spec.http[0].route[0].destination.host",
        'This VirtualService routes to a service "shop" that exposes multiple ports [80 81 3306]. Specifying a port in the destination is required to disambiguate.',
      ],
      [
        "IST0118",
        "Service default/shop",
        "spec.ports[0]",
        "Port name web (port: 80, targetPort: 8080) doesn't follow the naming convention of Istio port.",
      ],
    ]);
    expect(() => analyzeConfig({} as never)).toThrow(/must be an array/);
  });

  it("Sidecars: IST0101 for a selector nothing matches, IST0110 and IST0111 for Sidecars that compete", () => {
    const sidecar = (name: string, selector = "") =>
      `apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: { name: ${name} }\nspec:\n${selector}  egress: [{ hosts: ['./*'] }]`;
    const out = analyze(
      read("bookinfo/platform/bookinfo.yaml"),
      doc(
        "sidecars.yaml",
        [
          sidecar("all-1"),
          sidecar("all-2"),
          sidecar("reviews-a", "  workloadSelector: { labels: { app: reviews, version: v1 } }\n"),
          sidecar("reviews-b", "  workloadSelector: { labels: { app: reviews } }\n"),
          sidecar("ghost", "  workloadSelector: { labels: { app: ghost, tier: x } }\n"),
        ].join("\n---\n"),
      ),
    );
    expect(out).toEqual([
      [
        "IST0101",
        "Sidecar default/ghost",
        "spec.workloadSelector",
        'Referenced selector not found: "app=ghost,tier=x"',
      ],
      [
        "IST0110",
        "Sidecar default/reviews-a",
        "metadata.name",
        'The Sidecars [reviews-a reviews-b] in namespace "default" select the same workload pod "reviews-v1", which can lead to undefined behavior.',
      ],
      [
        "IST0110",
        "Sidecar default/reviews-b",
        "metadata.name",
        'The Sidecars [reviews-a reviews-b] in namespace "default" select the same workload pod "reviews-v1", which can lead to undefined behavior.',
      ],
      [
        "IST0111",
        "Sidecar default/all-1",
        "metadata.name",
        'The Sidecars [all-1 all-2] in namespace "default" have no workload selector, which can lead to undefined behavior.',
      ],
      [
        "IST0111",
        "Sidecar default/all-2",
        "metadata.name",
        'The Sidecars [all-1 all-2] in namespace "default" have no workload selector, which can lead to undefined behavior.',
      ],
    ]);
  });
});
