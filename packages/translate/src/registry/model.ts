// The service registry: what the mesh knows about services, their ports and endpoints, and the workloads
// behind them — built from Kubernetes objects and from Istio's ServiceEntry and WorkloadEntry alike, so a
// mesh without Kubernetes is described the same way (Istio: pilot/pkg/model.Service, IstioEndpoint).
import type { ConfigKey } from "../config/model.js";

/** Application protocol of a port, as Istio names them. `UNKNOWN`: not declared (Istio sniffs it). */
export type PortProtocol =
  | "HTTP"
  | "HTTP2"
  | "GRPC"
  | "GRPC-WEB"
  | "HTTPS"
  | "TLS"
  | "TCP"
  | "MONGO"
  | "REDIS"
  | "MYSQL"
  | "UDP"
  | "UNKNOWN";

export interface ServicePort {
  /** The port's name ("" when unnamed). */
  readonly name: string;
  readonly port: number;
  readonly protocol: PortProtocol;
  /** Kubernetes targetPort (number or a container port's name), or a ServiceEntry's targetPort. */
  readonly targetPort?: number | string;
}

/**
 * How a client finds the service's endpoints: from the registry (EDS), the original destination
 * (ServiceEntry NONE, headless Services), or DNS (STRICT_DNS / LOGICAL_DNS).
 */
export type Resolution = "ClientSideLB" | "Passthrough" | "DNS" | "DNSRoundRobin";

export interface MeshService {
  /** Fully qualified: `reviews.default.svc.cluster.local`, or a ServiceEntry host. */
  readonly hostname: string;
  readonly namespace: string;
  /** Short name for Kubernetes services (`reviews`), the host for ServiceEntries. */
  readonly name: string;
  /** VIPs: ClusterIPs, ServiceEntry addresses. */
  readonly addresses: readonly string[];
  readonly ports: readonly ServicePort[];
  readonly resolution: Resolution;
  /** ServiceEntry location MESH_EXTERNAL. */
  readonly meshExternal: boolean;
  /** Namespaces that may see it: `*` (everyone, the default), `.` (its own), or names. */
  readonly exportTo: readonly string[];
  readonly registry: "Kubernetes" | "ServiceEntry";
  /** The object it comes from. */
  readonly source: ConfigKey;
}

export interface ServiceEndpoint {
  readonly address: string;
  /** The port the workload listens on. */
  readonly port: number;
  /** The service port this endpoint serves (its number). */
  readonly servicePort: number;
  readonly labels: Readonly<Record<string, string>>;
  readonly serviceAccount: string;
  /** `region/zone/subzone`, "" when unknown. */
  readonly locality: string;
  /** Relative weight; 1 unless a WorkloadEntry says otherwise. */
  readonly weight: number;
  /** The workload behind it (config key), when known. */
  readonly workload?: ConfigKey;
}

/** Something a proxy can run as: a Pod, a Deployment's pods, or a WorkloadEntry (a VM or bare process). */
export interface Workload {
  readonly key: ConfigKey;
  readonly kind: "Pod" | "Deployment" | "WorkloadEntry";
  readonly name: string;
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly serviceAccount: string;
  /** Known IP addresses (a Pod's IP, a WorkloadEntry's address); empty for a Deployment. */
  readonly addresses: readonly string[];
  /** Container ports by name (Pods, Deployments) or a WorkloadEntry's named ports. */
  readonly ports: ReadonlyArray<{ readonly name: string; readonly port: number }>;
}

/** The registry of one configuration version. Immutable. */
export interface Registry {
  /** Every service, sorted by hostname then namespace. */
  readonly services: readonly MeshService[];
  /** Services by hostname (several when a ServiceEntry repeats a host, in namespace order). */
  readonly byHostname: ReadonlyMap<string, readonly MeshService[]>;
  /** Endpoints of a service port, in a stable order. */
  endpointsOf(service: MeshService, port: number): readonly ServiceEndpoint[];
  readonly workloads: readonly Workload[];
  /** The workload `namespace/name` (Pods first, then Deployments, then WorkloadEntries). */
  workload(namespace: string, name: string): Workload | undefined;
  /** The services whose endpoints include this workload (by selector or by endpoint address). */
  servicesOf(workload: Workload): readonly MeshService[];
  /** Which config keys each service's existence and endpoints were computed from. */
  readonly inputsOf: ReadonlyMap<MeshService, readonly ConfigKey[]>;
}
