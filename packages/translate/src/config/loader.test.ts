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
      ["error", "XDS_SPEC_DECODE", "VirtualService", "mesh.yaml", 11],
    ]);
    expect(diagnostics[1]?.message).toContain("banana");
  });

  it("reports every bad field with its path and position, and keeps the object out", () => {
    const text = [
      "apiVersion: networking.istio.io/v1",
      "kind: VirtualService",
      "metadata: { name: bad, namespace: shop }",
      "spec:",
      "  hosts: [a]",
      "  http:",
      "  - timeout: banana",
      "    retries: { attempts: -1x }",
      "    route:",
      "    - destination: { host: a, port: { number: -1 } }",
      "      weight: ten",
      "  tls: {}",
    ].join("\n");
    const { objects, diagnostics } = loadConfig({ file: "vs.yaml", text });
    expect(objects).toEqual([]);
    expect(diagnostics.map((d) => [d.path, d.line, d.message])).toEqual([
      ["spec.http[0].timeout", 7, '"banana" is not a Duration'],
      ["spec.http[0].retries.attempts", 8, '"-1x" is not an integer'],
      ["spec.http[0].route[0].destination.port.number", 10, "-1 is out of range [0, 4294967295]"],
      ["spec.http[0].route[0].weight", 11, '"ten" is not an integer'],
      ["spec.tls", 12, "a mapping is not a list"],
    ]);
    expect(diagnostics.every((d) => d.kind === "VirtualService" && d.namespace === "shop" && d.name === "bad")).toBe(
      true,
    );
  });

  it("accepts Go-style durations as Istio does", () => {
    const text = [
      "apiVersion: networking.istio.io/v1beta1",
      "kind: VirtualService",
      "metadata: { name: d }",
      "spec:",
      "  hosts: [a]",
      "  http:",
      "  - timeout: 1m30s",
      "    retries: { attempts: 3, perTryTimeout: 250ms }",
      "    fault: { delay: { fixedDelay: 1.5h, percentage: { value: 10 } } }",
      "    route: [{ destination: { host: a } }]",
    ].join("\n");
    const { objects, diagnostics } = loadConfig(text);
    expect(diagnostics).toEqual([]);
    const vs = objects[0];
    if (vs?.kind !== "VirtualService") throw new Error("no VirtualService");
    expect(vs.spec.http?.[0]?.timeout).toEqual({ seconds: 90, nanos: 0 });
    expect(vs.spec.http?.[0]?.retries?.perTryTimeout).toEqual({ seconds: 0, nanos: 250_000_000 });
    expect(vs.spec.http?.[0]?.fault?.delay?.fixedDelay).toEqual({ seconds: 5400, nanos: 0 });
  });

  it("reads JSON, JSON arrays and kind: List, with positions inside them", () => {
    const json = JSON.stringify(
      {
        apiVersion: "v1",
        kind: "List",
        items: [
          { apiVersion: "v1", kind: "Namespace", metadata: { name: "shop" } },
          {
            apiVersion: "networking.istio.io/v1",
            kind: "Gateway",
            metadata: { name: "gw", namespace: "shop" },
            spec: { servers: [{ port: { number: 80, name: "http", protocol: "HTTP" }, hosts: ["*"] }] },
          },
        ],
      },
      null,
      2,
    );
    const array = JSON.stringify([{ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "sa" } }]);
    const { objects, diagnostics } = loadConfig([
      { file: "list.json", text: json },
      { file: "array.json", text: array },
    ]);
    expect(diagnostics).toEqual([]);
    expect(objects.map((o) => `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`)).toEqual([
      "Namespace//shop",
      "Gateway/shop/gw",
      "ServiceAccount/default/sa",
    ]);
    const gateway = objects[1];
    expect(gateway?.source?.positionOf("spec.servers[0].port.number")).toMatchObject({
      file: "list.json",
      line: json.split("\n").findIndex((l) => l.includes('"number": 80')) + 1,
    });
  });

  it("reads every kind of the model and warns about unknown fields and versions without failing", () => {
    const docs = [
      "apiVersion: v1\nkind: Endpoints\nmetadata: { name: e }\nsubsets: [{ addresses: [{ ip: 10.0.0.1 }], ports: [{ port: 80 }] }]",
      "apiVersion: v1\nkind: Pod\nmetadata: { name: p, labels: { app: a } }\nspec: { serviceAccountName: sa }\nstatus: { podIP: 10.0.0.2 }",
      "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: { name: s }\naddressType: IPv4\nendpoints: [{ addresses: [10.0.0.3] }]",
      "apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: d }\nspec: { template: { metadata: { labels: { app: a } } } }",
      "apiVersion: networking.istio.io/v1alpha3\nkind: Sidecar\nmetadata: { name: default }\nspec: { egress: [{ hosts: ['./*'] }], colour: blue }",
      "apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: { name: we }\nspec: { address: 1.2.3.4 }",
      "apiVersion: networking.istio.io/v1\nkind: WorkloadGroup\nmetadata: { name: wg }\nspec: { template: { ports: { http: 80 } } }",
      "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: { name: se }\nspec: { hosts: [a.com], resolution: DNS }",
      "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: { name: pa }\nspec: { mtls: { mode: STRICT } }",
      "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: { name: ap }\nspec: { action: DENY }",
      "apiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: { name: ra }\nspec: { jwtRules: [{ issuer: x }] }",
      "apiVersion: networking.istio.io/v2\nkind: VirtualService\nmetadata: { name: future }",
    ];
    const { objects, diagnostics } = loadConfig({ file: "all.yaml", text: docs.join("\n---\n") });
    expect(objects.map((o) => o.kind)).toEqual([
      "Endpoints",
      "Pod",
      "EndpointSlice",
      "Deployment",
      "Sidecar",
      "WorkloadEntry",
      "WorkloadGroup",
      "ServiceEntry",
      "PeerAuthentication",
      "AuthorizationPolicy",
      "RequestAuthentication",
    ]);
    expect(diagnostics.map((d) => [d.severity, d.code, d.path])).toEqual([
      ["warning", "XDS_UNKNOWN_FIELD", "spec.colour"],
      ["warning", "XDS_UNKNOWN_KIND", "apiVersion"],
    ]);
    const pod = objects[1];
    expect(pod?.kind === "Pod" && pod.spec.podIP).toBe("10.0.0.2");
    const se = objects[7];
    expect(se?.kind === "ServiceEntry" && se.spec.resolution).toBe(2);
  });
});
