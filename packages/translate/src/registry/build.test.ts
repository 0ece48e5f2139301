import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../config/loader.js";
import { buildRegistry } from "./build.js";
import { protocolOfKubernetesPort } from "./protocol.js";

const root = path.resolve(import.meta.dirname, "../../../../test/fixtures");
const read = (rel: string) => ({ file: rel, text: fs.readFileSync(path.join(root, rel), "utf8") });

describe("buildRegistry", () => {
  it("reads Bookinfo's Services and Deployments: FQDN hosts, HTTP ports, workloads with labels and service accounts", () => {
    const { objects } = loadConfig(read("istio/bookinfo/platform/bookinfo.yaml"));
    const registry = buildRegistry(objects);
    expect(registry.services.map((s) => s.hostname)).toEqual([
      "details.default.svc.cluster.local",
      "productpage.default.svc.cluster.local",
      "ratings.default.svc.cluster.local",
      "reviews.default.svc.cluster.local",
    ]);
    const reviews = registry.byHostname.get("reviews.default.svc.cluster.local")?.[0];
    expect(reviews?.ports).toEqual([{ name: "http", port: 9080, protocol: "HTTP" }]);
    expect(reviews?.resolution).toBe("ClientSideLB");
    const v2 = registry.workload("default", "reviews-v2");
    expect(v2).toMatchObject({ kind: "Deployment", serviceAccount: "bookinfo-reviews", labels: { version: "v2" } });
    expect(v2 && registry.servicesOf(v2).map((s) => s.name)).toEqual(["reviews"]);
  });

  it("takes endpoints from EndpointSlices (ready only), then Endpoints, then selected Pods, with WorkloadEntries added", () => {
    const text = `
apiVersion: v1
kind: Service
metadata: { name: a, namespace: shop }
spec: { selector: { app: a }, clusterIP: 10.96.0.1, ports: [{ name: http-web, port: 80, targetPort: web }] }
---
apiVersion: v1
kind: Pod
metadata: { name: a-1, namespace: shop, labels: { app: a, version: v1 } }
spec: { serviceAccountName: sa-a, containers: [{ name: c, ports: [{ name: web, containerPort: 8080 }] }] }
status: { podIP: 10.1.0.1 }
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: a-vm, namespace: shop }
spec: { address: 192.168.0.9, labels: { app: a, version: vm }, ports: { http-web: 9090 } }
---
apiVersion: v1
kind: Service
metadata: { name: b, namespace: shop }
spec: { ports: [{ name: grpc, port: 7070 }] }
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: b-xyz, namespace: shop, labels: { kubernetes.io/service-name: b } }
addressType: IPv4
ports: [{ name: grpc, port: 7171 }]
endpoints:
- { addresses: [10.2.0.2], conditions: { ready: true }, zone: z1 }
- { addresses: [10.2.0.3], conditions: { ready: false } }
---
apiVersion: v1
kind: Service
metadata: { name: c, namespace: shop }
spec: { clusterIP: None, ports: [{ port: 5432 }] }
`;
    const registry = buildRegistry(loadConfig(text).objects);
    const a = registry.byHostname.get("a.shop.svc.cluster.local")?.[0];
    expect(a?.ports[0]?.protocol).toBe("HTTP");
    expect(a && registry.endpointsOf(a, 80).map((e) => [e.address, e.port, e.labels.version])).toEqual([
      ["10.1.0.1", 8080, "v1"],
      ["192.168.0.9", 9090, "vm"],
    ]);
    const b = registry.byHostname.get("b.shop.svc.cluster.local")?.[0];
    expect(b?.ports[0]?.protocol).toBe("GRPC");
    expect(b && registry.endpointsOf(b, 7070).map((e) => [e.address, e.port, e.locality])).toEqual([
      ["10.2.0.2", 7171, "/z1"],
    ]);
    const c = registry.byHostname.get("c.shop.svc.cluster.local")?.[0];
    expect(c?.resolution).toBe("Passthrough");
    expect(c?.ports[0]?.protocol).toBe("UNKNOWN");
  });

  it("reads ServiceEntries in every resolution and location, with WorkloadEntry endpoints (no Kubernetes)", () => {
    const registry = buildRegistry(loadConfig(read("no-kubernetes/bookinfo-vms.yaml")).objects);
    const reviews = registry.byHostname.get("reviews.default.svc.cluster.local")?.[0];
    expect(reviews).toMatchObject({ registry: "ServiceEntry", meshExternal: false, resolution: "ClientSideLB" });
    expect(
      reviews && registry.endpointsOf(reviews, 9080).map((e) => [e.address, e.port, e.labels.version, e.weight]),
    ).toEqual([
      ["10.0.0.21", 19081, "v1", 1],
      ["10.0.0.22", 19082, "v2", 1],
      ["10.0.0.23", 19083, "v3", 2],
    ]);
    const external = buildRegistry(
      loadConfig(`
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ext, namespace: egress }
spec:
  hosts: [api.example.com, www.example.com]
  ports: [{ number: 443, name: tls, protocol: TLS }]
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: any, namespace: egress }
spec: { hosts: ["*.example.org"], ports: [{ number: 80, name: http, protocol: HTTP }] }
`).objects,
    );
    const api = external.byHostname.get("api.example.com")?.[0];
    expect(api).toMatchObject({ meshExternal: true, resolution: "DNS" });
    expect(api && external.endpointsOf(api, 443).map((e) => `${e.address}:${e.port}`)).toEqual(["api.example.com:443"]);
    expect(external.byHostname.get("*.example.org")?.[0]?.resolution).toBe("Passthrough");
  });

  it("derives protocols from port names and appProtocol", () => {
    expect(protocolOfKubernetesPort("http2-x", undefined)).toBe("HTTP2");
    expect(protocolOfKubernetesPort("tcp", "kubernetes.io/h2c")).toBe("HTTP2");
    expect(protocolOfKubernetesPort("grpc-web", undefined)).toBe("GRPC-WEB");
    expect(protocolOfKubernetesPort("web", undefined)).toBe("UNKNOWN");
    expect(protocolOfKubernetesPort(undefined, "https")).toBe("HTTPS");
  });
});
