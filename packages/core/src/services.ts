// Generated gRPC service definitions (ts-proto "generic definitions"), for servers and test clients.

import { ClusterDiscoveryServiceDefinition } from "./gen/envoy/service/cluster/v3/cds.js";
import { EndpointDiscoveryServiceDefinition } from "./gen/envoy/service/endpoint/v3/eds.js";
import { LocalityEndpointDiscoveryServiceDefinition } from "./gen/envoy/service/endpoint/v3/leds.js";
import { ExtensionConfigDiscoveryServiceDefinition } from "./gen/envoy/service/extension/v3/config_discovery.js";
import { ListenerDiscoveryServiceDefinition } from "./gen/envoy/service/listener/v3/lds.js";
import {
  RouteDiscoveryServiceDefinition,
  VirtualHostDiscoveryServiceDefinition,
} from "./gen/envoy/service/route/v3/rds.js";
import { ScopedRoutesDiscoveryServiceDefinition } from "./gen/envoy/service/route/v3/srds.js";
import { RuntimeDiscoveryServiceDefinition } from "./gen/envoy/service/runtime/v3/rtds.js";
import { SecretDiscoveryServiceDefinition } from "./gen/envoy/service/secret/v3/sds.js";

export { AggregatedDiscoveryServiceDefinition } from "./gen/envoy/service/discovery/v3/ads.js";
export {
  ClusterDiscoveryServiceDefinition,
  EndpointDiscoveryServiceDefinition,
  ExtensionConfigDiscoveryServiceDefinition,
  ListenerDiscoveryServiceDefinition,
  LocalityEndpointDiscoveryServiceDefinition,
  RouteDiscoveryServiceDefinition,
  RuntimeDiscoveryServiceDefinition,
  ScopedRoutesDiscoveryServiceDefinition,
  SecretDiscoveryServiceDefinition,
  VirtualHostDiscoveryServiceDefinition,
};
export {
  ClientConfig,
  ClientConfig_GenericXdsConfig,
  ClientConfigStatus,
  ClientStatusDiscoveryServiceDefinition,
  ClientStatusRequest,
  ClientStatusResponse,
  ConfigStatus,
} from "./gen/envoy/service/status/v3/csds.js";
export {
  HealthCheckRequest,
  HealthCheckResponse,
  HealthCheckResponse_ServingStatus,
  HealthDefinition,
} from "./gen/grpc/health/v1/health.js";
export {
  IstioCertificateRequest,
  IstioCertificateResponse,
  IstioCertificateServiceDefinition,
} from "./gen/istio/v1/auth/ca.js";

/** The shape of a generated method definition. */
export interface GenericMethodDefinition {
  readonly name: string;
  readonly requestStream: boolean;
  readonly responseStream: boolean;
  readonly requestType: { decode(input: Uint8Array): unknown; encode(message: never): { finish(): Uint8Array } };
  readonly responseType: { decode(input: Uint8Array): unknown; encode(message: never): { finish(): Uint8Array } };
}

/** The shape of a generated service definition. */
export interface GenericServiceDefinition {
  readonly name: string;
  readonly fullName: string;
  readonly methods: { readonly [method: string]: GenericMethodDefinition };
}
export { ClientResourceStatus } from "./gen/envoy/admin/v3/config_dump_shared.js";

/** The per-type discovery services (LDS, RDS, CDS ...) by full name, as `resourceTypes[kind].grpcService` names them. */
export const perTypeServiceDefinitions: ReadonlyMap<string, GenericServiceDefinition> = new Map(
  [
    ClusterDiscoveryServiceDefinition,
    EndpointDiscoveryServiceDefinition,
    ExtensionConfigDiscoveryServiceDefinition,
    ListenerDiscoveryServiceDefinition,
    LocalityEndpointDiscoveryServiceDefinition,
    RouteDiscoveryServiceDefinition,
    RuntimeDiscoveryServiceDefinition,
    ScopedRoutesDiscoveryServiceDefinition,
    SecretDiscoveryServiceDefinition,
    VirtualHostDiscoveryServiceDefinition,
  ].map((d) => [d.fullName, d as GenericServiceDefinition]),
);
export { Status } from "./gen/google/rpc/status.js";
