// The mesh of the translation benchmark, in one place so that xdskit (bench/translate.ts) and istiod
// (bench/istiod-generation/) are timed on the same objects: S services in 10 namespaces with two pods each,
// DestinationRules with three subsets and VirtualServices (80/20 plus a header match) on a third of the services.

export const NAMESPACES = 10;

export function meshYaml(services: number): string {
  const docs: string[] = [];
  for (let i = 0; i < services; i++) {
    const ns = `ns-${i % NAMESPACES}`;
    const name = `svc-${i}`;
    docs.push(`apiVersion: v1
kind: Service
metadata: { name: ${name}, namespace: ${ns} }
spec: { selector: { app: ${name} }, clusterIP: 10.96.${Math.floor(i / 250)}.${i % 250}, ports: [{ name: http, port: 9080 }] }`);
    for (const version of ["v1", "v2"])
      docs.push(`apiVersion: v1
kind: Pod
metadata: { name: ${name}-${version}, namespace: ${ns}, labels: { app: ${name}, version: ${version} } }
spec: { serviceAccountName: ${name}, containers: [{ name: app, ports: [{ containerPort: 9080 }] }] }
status: { podIP: 10.${version === "v1" ? 1 : 2}.${Math.floor(i / 250)}.${i % 250} }`);
    if (i % 3 === 0) {
      docs.push(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: ${name}, namespace: ${ns} }
spec:
  host: ${name}
  trafficPolicy: { connectionPool: { http: { http2MaxRequests: 100 } } }
  subsets: [{ name: v1, labels: { version: v1 } }, { name: v2, labels: { version: v2 } }, { name: v3, labels: { version: v3 } }]`);
      docs.push(vsYaml(name, ns, 80));
    }
  }
  return docs.join("\n---\n");
}

export function vsYaml(name: string, ns: string, weight: number): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ${name}, namespace: ${ns} }
spec:
  hosts: [${name}]
  http:
  - match: [{ headers: { end-user: { exact: jason } } }]
    route: [{ destination: { host: ${name}, subset: v2 } }]
  - route: [{ destination: { host: ${name}, subset: v1 }, weight: ${weight} }, { destination: { host: ${name}, subset: v2 }, weight: ${100 - weight} }]`;
}

/** The VirtualService change of a trial: svc-3's weights move to (50 + trial) / (50 − trial). */
export const vsChangeYaml = (trial: number) => vsYaml("svc-3", "ns-3", 50 + trial);

/**
 * The endpoint change of a trial: a new svc-3 Pod (subset v3). Same service account as svc-3's other Pods,
 * so that it changes endpoints only (a new account would also change the service's identities).
 */
export const podAddYaml = (trial: number) => `apiVersion: v1
kind: Pod
metadata: { name: svc-3-v3-${trial}, namespace: ns-3, labels: { app: svc-3, version: v3 } }
spec: { serviceAccountName: svc-3, containers: [{ name: app, ports: [{ containerPort: 9080 }] }] }
status: { podIP: 10.3.0.${trial + 1} }`;
