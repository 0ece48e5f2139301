// The parts of Kubernetes objects that translate reads. These are Kubernetes' core/v1, apps/v1 and
// discovery.k8s.io/v1 field names; fields translate does not read are kept (index signature) but not typed.

export interface K8sServicePort {
  name?: string;
  protocol?: string;
  appProtocol?: string;
  port: number;
  targetPort?: number | string;
  nodePort?: number;
}

export interface K8sServiceSpec {
  type?: string;
  selector?: Record<string, string>;
  ports?: K8sServicePort[];
  clusterIP?: string;
  clusterIPs?: string[];
  externalName?: string;
  [field: string]: unknown;
}

export interface K8sEndpointAddress {
  ip: string;
  hostname?: string;
  nodeName?: string;
  targetRef?: { kind?: string; name?: string; namespace?: string };
}

export interface K8sEndpointPort {
  name?: string;
  port: number;
  protocol?: string;
  appProtocol?: string;
}

export interface K8sEndpointsBody {
  subsets?: Array<{
    addresses?: K8sEndpointAddress[];
    notReadyAddresses?: K8sEndpointAddress[];
    ports?: K8sEndpointPort[];
  }>;
  [field: string]: unknown;
}

export interface K8sEndpointSliceBody {
  addressType?: string;
  endpoints?: Array<{
    addresses: string[];
    conditions?: { ready?: boolean; serving?: boolean; terminating?: boolean };
    hostname?: string;
    nodeName?: string;
    zone?: string;
    targetRef?: { kind?: string; name?: string; namespace?: string };
  }>;
  ports?: Array<{ name?: string; port?: number; protocol?: string; appProtocol?: string }>;
  [field: string]: unknown;
}

export interface K8sContainerPort {
  name?: string;
  containerPort: number;
  protocol?: string;
}

export interface K8sPodSpec {
  serviceAccountName?: string;
  containers?: Array<{ name: string; image?: string; ports?: K8sContainerPort[]; [field: string]: unknown }>;
  /** Pods only: the address the pod runs at, from `status.podIP`. */
  podIP?: string;
  nodeName?: string;
  [field: string]: unknown;
}

export interface K8sDeploymentSpec {
  replicas?: number;
  selector?: { matchLabels?: Record<string, string> };
  template?: {
    metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
    spec?: K8sPodSpec;
  };
  [field: string]: unknown;
}

export type K8sServiceAccountBody = Record<string, unknown>;
/** A Secret's `type`, `data` (base64) and `stringData`, moved under `spec`; read for gateway credentials. */
export interface K8sSecretBody {
  type?: string;
  data?: Record<string, unknown>;
  stringData?: Record<string, unknown>;
  [field: string]: unknown;
}
export type K8sNamespaceSpec = Record<string, unknown>;
