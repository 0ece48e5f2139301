// @xdskit/server: an xDS management server (ADS, per-type services, SotW and delta) over @grpc/grpc-js.

export type { AckInfo, NackInfo, ResponseInfo, StreamInfo, XdsServerCallbacks } from "./callbacks.js";
export { type ClientStatusSource, clientConfigOf, clientStatus } from "./csds.js";
export type { AuthorizationRequest, Identity, PeerInfo, XdsServerOptions } from "./options.js";
export { createRestDiscoveryHandler, type RestDiscoveryOptions } from "./rest.js";
export { createXdsServer, type XdsServer } from "./xds-server.js";
