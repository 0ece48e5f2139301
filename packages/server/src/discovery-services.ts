// Registers an xDS discovery service (ADS, or one type's) on grpc-js from its generated definition: bidi
// methods are SotW or delta streams, unary ones Fetch<Plural>.
import * as grpc from "@grpc/grpc-js";
import { DeltaDiscoveryRequest, DiscoveryRequest, type ResourceType, XdsKitError } from "@xdskit/core";
import { perTypeServiceDefinitions } from "@xdskit/core/services";
import { fetchCallHandler } from "./fetch-call.js";
import { decodeRequest, identitySerialize } from "./request-codecs.js";
import { decodeDiscoveryRequest } from "./request-decoder.js";
import type { ServerState } from "./server-state.js";
import { streamCallHandler } from "./stream-call.js";

/** A generated method definition, as much of it as the server reads. */
export type DiscoveryMethods = Record<
  string,
  { name: string; requestType: unknown; requestStream: boolean; responseStream: boolean }
>;

/** Adds `serviceName` with `methods`; `fixedType` for a per-type service, undefined for ADS. */
export function addDiscoveryService(
  server: grpc.Server,
  state: ServerState,
  serviceName: string,
  methods: DiscoveryMethods,
  fixedType: ResourceType | undefined,
): void {
  const definition: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  const implementation: grpc.UntypedServiceImplementation = {};
  for (const [key, method] of Object.entries(methods)) {
    const path = `/${serviceName}/${method.name}`;
    if (method.requestStream && method.responseStream) {
      const delta = method.requestType === DeltaDiscoveryRequest;
      const codec = delta ? DeltaDiscoveryRequest : { decode: decodeDiscoveryRequest, encode: DiscoveryRequest.encode };
      definition[key] = {
        path,
        requestStream: true,
        responseStream: true,
        requestSerialize: (value: unknown) => Buffer.from(codec.encode(value as never).finish()),
        requestDeserialize: (bytes: Buffer) => decodeRequest(codec, bytes),
        responseSerialize: identitySerialize as (value: unknown) => Buffer,
        responseDeserialize: (bytes: Buffer) => bytes,
      };
      implementation[key] = streamCallHandler(
        state,
        delta ? "delta" : "sotw",
        path,
        fixedType,
      ) as grpc.handleBidiStreamingCall<unknown, unknown>;
    } else {
      // Unary Fetch<Plural>: REST-style polling over gRPC (XDS-RULES R32), answered by fetch.ts like REST.
      definition[key] = {
        path,
        requestStream: false,
        responseStream: false,
        requestSerialize: (value: unknown) => Buffer.from(DiscoveryRequest.encode(value as DiscoveryRequest).finish()),
        requestDeserialize: (bytes: Buffer) => decodeRequest(DiscoveryRequest, bytes),
        responseSerialize: identitySerialize as (value: unknown) => Buffer,
        responseDeserialize: (bytes: Buffer) => bytes,
      };
      implementation[key] = (
        fixedType
          ? fetchCallHandler(state, method.name, fixedType)
          : (_call: unknown, callback: grpc.sendUnaryData<Uint8Array>) =>
              callback({ code: grpc.status.UNIMPLEMENTED, details: `${method.name} is not served` })
      ) as grpc.handleUnaryCall<unknown, unknown>;
    }
  }
  server.addService(definition as grpc.ServiceDefinition, implementation);
}

/** The per-type service's methods: Stream<Plural>, Delta<Plural>, Fetch<Plural>, from the generated definitions. */
export function perTypeMethods(type: ResourceType): DiscoveryMethods {
  const definition = perTypeServiceDefinitions.get(type.grpcService);
  if (!definition) throw new XdsKitError("INVALID_ARGUMENT", `no generated service ${type.grpcService}`);
  return definition.methods;
}
