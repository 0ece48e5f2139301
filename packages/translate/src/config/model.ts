// The config model: every object translate reads, Kubernetes and Istio alike, as one shape.
// Istio specs are the messages generated from Istio's own API protos (@xdskit/core/istio), decoded from
// the YAML's proto3 JSON, so Durations are `{ seconds, nanos }` and enums are numbers.
import type {
  AuthorizationPolicy,
  DestinationRule,
  Gateway,
  PeerAuthentication,
  RequestAuthentication,
  ServiceEntry,
  Sidecar,
  VirtualService,
  WorkloadEntry,
  WorkloadGroup,
} from "@xdskit/core/istio";
import type {
  K8sDeploymentSpec,
  K8sEndpointSliceBody,
  K8sEndpointsBody,
  K8sNamespaceSpec,
  K8sPodSpec,
  K8sSecretBody,
  K8sServiceAccountBody,
  K8sServiceSpec,
} from "./kubernetes.js";

/** The spec type of each kind translate understands. */
export interface SpecByKind {
  VirtualService: VirtualService;
  DestinationRule: DestinationRule;
  Gateway: Gateway;
  ServiceEntry: ServiceEntry;
  WorkloadEntry: WorkloadEntry;
  WorkloadGroup: WorkloadGroup;
  Sidecar: Sidecar;
  PeerAuthentication: PeerAuthentication;
  AuthorizationPolicy: AuthorizationPolicy;
  RequestAuthentication: RequestAuthentication;
  Service: K8sServiceSpec;
  /** Endpoints keep their data beside metadata (`subsets`); it is moved under `spec`. */
  Endpoints: K8sEndpointsBody;
  /** EndpointSlices keep their data beside metadata (`addressType`, `endpoints`, `ports`); moved under `spec`. */
  EndpointSlice: K8sEndpointSliceBody;
  Pod: K8sPodSpec;
  Deployment: K8sDeploymentSpec;
  /** ServiceAccounts have no spec; `secrets` and the like, if any, are moved under `spec`. */
  ServiceAccount: K8sServiceAccountBody;
  /** Secrets keep their data beside metadata (`type`, `data`, `stringData`); moved under `spec`. Not translated. */
  Secret: K8sSecretBody;
  Namespace: K8sNamespaceSpec;
}

export type ConfigKind = keyof SpecByKind;

/** Where something was written: 1-based line and column. */
export interface SourcePosition {
  readonly file?: string;
  readonly line: number;
  readonly column: number;
}

/** Where an object came from, and where each of its fields is. */
export interface ObjectSource {
  readonly file?: string;
  /** Index of the YAML document (or JSON array element) in the file, 0-based. */
  readonly document: number;
  /** The position of the document itself. */
  readonly position: SourcePosition;
  /** The object as written (YAML or JSON, as plain JSON values): what structural validation checks. */
  readonly json?: unknown;
  /**
   * The position of a field, by a path relative to the object root such as `spec.http[0].route[1].weight`.
   * Falls back to the nearest written ancestor, so every path gets an answer.
   */
  positionOf(path: string): SourcePosition;
}

/** Kubernetes object metadata, with the defaults filled in (namespace `default`, empty maps). */
export interface ObjectMeta {
  readonly name: string;
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  /** RFC 3339; decides which of two conflicting VirtualServices is older (Istio: the oldest wins). */
  readonly creationTimestamp?: string;
  readonly generation?: number;
  readonly resourceVersion?: string;
}

/** One configuration object. */
export interface ConfigObject<K extends ConfigKind = ConfigKind> {
  /** As written, e.g. `networking.istio.io/v1`. */
  readonly apiVersion: string;
  readonly kind: K;
  readonly metadata: ObjectMeta;
  readonly spec: SpecByKind[K];
  readonly source?: ObjectSource;
}

/** Any object of any known kind, narrowed by `kind`. */
export type AnyConfigObject = { [K in ConfigKind]: ConfigObject<K> }[ConfigKind];

/** `kind/namespace/name`: the identity of an object (what an update replaces and a delete removes). */
export type ConfigKey = string;

export function configKey(object: { kind: string; metadata: { namespace?: string; name: string } }): ConfigKey {
  return `${object.kind}/${object.metadata.namespace ?? "default"}/${object.metadata.name}`;
}

/** Narrows an object to one kind. */
export function isKind<K extends ConfigKind>(
  object: AnyConfigObject,
  kind: K,
): object is ConfigObject<K> & AnyConfigObject {
  return object.kind === kind;
}
