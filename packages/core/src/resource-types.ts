// The single table of xDS resource types: type URLs, codecs, names and SotW semantics.
// Nothing else in xdskit spells a type URL; look types up here.
import type { BinaryReader, BinaryWriter } from "@bufbuild/protobuf/wire";
import { XdsKitError } from "./errors.js";
import { Cluster, ClusterCollection } from "./gen/envoy/config/cluster/v3/cluster.js";
import { TypedExtensionConfig } from "./gen/envoy/config/core/v3/extension.js";
import { ClusterLoadAssignment } from "./gen/envoy/config/endpoint/v3/endpoint.js";
import { LbEndpoint } from "./gen/envoy/config/endpoint/v3/endpoint_components.js";
import { Listener, ListenerCollection } from "./gen/envoy/config/listener/v3/listener.js";
import { RouteConfiguration } from "./gen/envoy/config/route/v3/route.js";
import { VirtualHost } from "./gen/envoy/config/route/v3/route_components.js";
import { ScopedRouteConfiguration } from "./gen/envoy/config/route/v3/scoped_route.js";
import { Secret } from "./gen/envoy/extensions/transport_sockets/tls/v3/secret.js";
import { Runtime } from "./gen/envoy/service/runtime/v3/rtds.js";

/** Encoder/decoder of one generated message type (the shape ts-proto generates). */
export interface MessageCodec<T> {
  encode(message: T, writer?: BinaryWriter): BinaryWriter;
  decode(input: BinaryReader | Uint8Array, length?: number): T;
  // biome-ignore lint/suspicious/noExplicitAny: ts-proto's DeepPartial is file-private
  fromPartial(object: any): T;
}

/** Short names of the xDS resource types, as Envoy's docs use them. */
export type ResourceKind =
  | "Cluster"
  | "ClusterLoadAssignment"
  | "LbEndpoint"
  | "Listener"
  | "RouteConfiguration"
  | "ScopedRouteConfiguration"
  | "VirtualHost"
  | "Secret"
  | "Runtime"
  | "TypedExtensionConfig"
  | "ListenerCollection"
  | "ClusterCollection";

/**
 * Per-type behaviour of one xDS resource type. `K` is a built-in {@link ResourceKind}, or for a type an
 * application registered ({@link registerResourceType}) the kind it chose.
 */
export interface ResourceType<T = unknown, K extends string = string> {
  readonly kind: K;
  /** The discovery service's usual abbreviation: CDS, EDS, LDS ... (a list collection: that of its members). */
  readonly service: string;
  /**
   * Fully qualified name of the type's own gRPC discovery service (besides ADS). List collections have no
   * service of their own: for them this is the aggregated one (`envoy.service.discovery.v3.AggregatedDiscoveryService`).
   */
  readonly grpcService: string;
  /** REST-JSON discovery path, e.g. "/v3/discovery:clusters"; undefined where Envoy defines none. */
  readonly restPath: string | undefined;
  /** Fully qualified protobuf message name. */
  readonly messageName: string;
  /** `type.googleapis.com/` + messageName. */
  readonly typeUrl: string;
  readonly codec: MessageCodec<T>;
  /** The resource's name, as clients subscribe to it. */
  nameOf(resource: T): string;
  /**
   * SotW: every response must carry every subscribed resource, and a missing one is deleted by the
   * client (XDS-RULES R12: LDS and CDS). For the other types a response may carry only what changed.
   */
  readonly sotwAllRequired: boolean;
  /**
   * Make-before-break rank (XDS-RULES R18): lower ranks are sent first. Secrets, runtime and extension
   * configs come before what warms on them; clusters before their endpoints, before listeners, before routes;
   * a list collection just before its members. Ranks are unique.
   */
  readonly orderRank: number;
  /**
   * Served over delta xDS only; a SotW request for the type is refused (XDS-RULES R35: xdstp collections are
   * delta-only). True for the list-collection types, false for every other.
   */
  readonly deltaOnly: boolean;
  /**
   * For an xdstp list-collection type (`<T>Collection` of `xds.core.v3.CollectionEntry`, R35): the kind of its
   * members, e.g. "Listener" for ListenerCollection. Undefined for every other type.
   */
  readonly collectionOf: ResourceKind | undefined;
}

const TYPE_URL_PREFIX = "type.googleapis.com/";

// Envoy's REST-JSON discovery endpoints (POST, DiscoveryRequest in, DiscoveryResponse out).
const REST_PATHS: Record<string, string> = {
  LDS: "/v3/discovery:listeners",
  RDS: "/v3/discovery:routes",
  SRDS: "/v3/discovery:scoped-routes",
  CDS: "/v3/discovery:clusters",
  EDS: "/v3/discovery:endpoints",
  SDS: "/v3/discovery:secrets",
  RTDS: "/v3/discovery:runtime",
  ECDS: "/v3/discovery:extension_configs",
};

function define<T, K extends ResourceKind>(
  kind: K,
  service: string,
  grpcService: string,
  messageName: string,
  codec: MessageCodec<T>,
  nameOf: (resource: T) => string,
  sotwAllRequired: boolean,
  orderRank: number,
  collectionOf?: ResourceKind,
): ResourceType<T, K> {
  return Object.freeze({
    kind,
    service,
    grpcService,
    // A list collection has no REST path: collections are delta-only (R35).
    restPath: collectionOf ? undefined : REST_PATHS[service],
    messageName,
    typeUrl: TYPE_URL_PREFIX + messageName,
    codec,
    nameOf,
    sotwAllRequired,
    orderRank,
    deltaOnly: collectionOf !== undefined,
    collectionOf,
  });
}

const ADS_SERVICE = "envoy.service.discovery.v3.AggregatedDiscoveryService";

// biome-ignore lint/suspicious/noExplicitAny: used only to check that each table entry sits under its own kind
type ResourceTypeOfKind<K extends ResourceKind> = ResourceType<any, K>;

/** Every xDS resource type xdskit serves, keyed by kind. */
export const resourceTypes = Object.freeze({
  Runtime: define(
    "Runtime",
    "RTDS",
    "envoy.service.runtime.v3.RuntimeDiscoveryService",
    "envoy.service.runtime.v3.Runtime",
    Runtime,
    (r) => r.name ?? "",
    false,
    0,
  ),
  Secret: define(
    "Secret",
    "SDS",
    "envoy.service.secret.v3.SecretDiscoveryService",
    "envoy.extensions.transport_sockets.tls.v3.Secret",
    Secret,
    (r) => r.name ?? "",
    false,
    1,
  ),
  TypedExtensionConfig: define(
    "TypedExtensionConfig",
    "ECDS",
    "envoy.service.extension.v3.ExtensionConfigDiscoveryService",
    "envoy.config.core.v3.TypedExtensionConfig",
    TypedExtensionConfig,
    (r) => r.name ?? "",
    false,
    2,
  ),
  // xdstp list collections (R35), named by their xdstp:// locator; each comes just before its members.
  ClusterCollection: define(
    "ClusterCollection",
    "CDS",
    ADS_SERVICE,
    "envoy.config.cluster.v3.ClusterCollection",
    ClusterCollection,
    () => "",
    false,
    3,
    "Cluster",
  ),
  Cluster: define(
    "Cluster",
    "CDS",
    "envoy.service.cluster.v3.ClusterDiscoveryService",
    "envoy.config.cluster.v3.Cluster",
    Cluster,
    (r) => r.name ?? "",
    true,
    4,
  ),
  ClusterLoadAssignment: define(
    "ClusterLoadAssignment",
    "EDS",
    "envoy.service.endpoint.v3.EndpointDiscoveryService",
    "envoy.config.endpoint.v3.ClusterLoadAssignment",
    ClusterLoadAssignment,
    (r) => r.clusterName ?? "",
    false,
    5,
  ),
  // LEDS resources are named by their xdstp:// locator, not by a field of the message.
  LbEndpoint: define(
    "LbEndpoint",
    "LEDS",
    "envoy.service.endpoint.v3.LocalityEndpointDiscoveryService",
    "envoy.config.endpoint.v3.LbEndpoint",
    LbEndpoint,
    () => "",
    false,
    6,
  ),
  ListenerCollection: define(
    "ListenerCollection",
    "LDS",
    ADS_SERVICE,
    "envoy.config.listener.v3.ListenerCollection",
    ListenerCollection,
    () => "",
    false,
    7,
    "Listener",
  ),
  Listener: define(
    "Listener",
    "LDS",
    "envoy.service.listener.v3.ListenerDiscoveryService",
    "envoy.config.listener.v3.Listener",
    Listener,
    (r) => r.name ?? "",
    true,
    8,
  ),
  RouteConfiguration: define(
    "RouteConfiguration",
    "RDS",
    "envoy.service.route.v3.RouteDiscoveryService",
    "envoy.config.route.v3.RouteConfiguration",
    RouteConfiguration,
    (r) => r.name ?? "",
    false,
    9,
  ),
  ScopedRouteConfiguration: define(
    "ScopedRouteConfiguration",
    "SRDS",
    "envoy.service.route.v3.ScopedRoutesDiscoveryService",
    "envoy.config.route.v3.ScopedRouteConfiguration",
    ScopedRouteConfiguration,
    (r) => r.name ?? "",
    false,
    10,
  ),
  VirtualHost: define(
    "VirtualHost",
    "VHDS",
    "envoy.service.route.v3.VirtualHostDiscoveryService",
    "envoy.config.route.v3.VirtualHost",
    VirtualHost,
    (r) => r.name ?? "",
    false,
    11,
  ),
} satisfies { [K in ResourceKind]: ResourceTypeOfKind<K> });

/** Message type of each resource kind, e.g. `ResourceOf<"Cluster">` is `Cluster`. */
export type ResourceOf<K extends ResourceKind> = (typeof resourceTypes)[K] extends ResourceType<infer T> ? T : never;

const byTypeUrl = new Map<string, ResourceType>(
  Object.values(resourceTypes).map((t) => [t.typeUrl, t as ResourceType]),
);
const customByKind = new Map<string, ResourceType>();

/**
 * Every resource type with a discovery service of its own (a per-type gRPC service, usually a REST path), in
 * make-before-break order. The list-collection types (`collectionOf` set), which only delta ADS serves, are in
 * {@link resourceTypes} and found by {@link resourceTypeOf}, but not listed here.
 */
export const resourceTypeList: readonly ResourceType[] = [...byTypeUrl.values()]
  .filter((t) => t.collectionOf === undefined)
  .sort((a, b) => a.orderRank - b.orderRank);

/** The resource type with this type URL (built in or registered), or undefined when xdskit does not serve it. */
export function resourceTypeOf(typeUrl: string): ResourceType | undefined {
  return byTypeUrl.get(typeUrl);
}

/** The resource type of a kind: a built-in one (`"Cluster"`), or one an application registered. */
export function resourceTypeOfKind(kind: string): ResourceType | undefined {
  return Object.hasOwn(resourceTypes, kind)
    ? (resourceTypes[kind as ResourceKind] as ResourceType)
    : customByKind.get(kind);
}

/** Every kind a snapshot accepts: the built-in ones, then those registered. */
export function resourceKinds(): string[] {
  return [...Object.keys(resourceTypes), ...customByKind.keys()];
}

/** What an application gives to serve a resource type of its own over ADS ({@link registerResourceType}). */
export interface CustomResourceTypeOptions<T> {
  /** The type URL clients subscribe with, `type.googleapis.com/<full message name>`. */
  typeUrl: string;
  /** The key of its resources in a snapshot and in errors. Default: the message name of `typeUrl`. */
  kind?: string;
  /**
   * The message's codec (e.g. generated by ts-proto): resources are then given as messages, like built-in ones.
   * Default: none, and the type's resources are given as bytes only, with {@link rawResource}.
   */
  codec?: MessageCodec<T>;
  /** A resource's name, as clients subscribe to it. Default: its `name` field. */
  nameOf?: (resource: T) => string;
  /** SotW: every response carries every subscribed resource, as for LDS and CDS. Default: false. */
  sotwAllRequired?: boolean;
}

function rawOnlyCodec(typeUrl: string): MessageCodec<never> {
  const refuse = (): never => {
    throw new XdsKitError(
      "INVALID_ARGUMENT",
      `${typeUrl} was registered without a codec: give its resources as bytes, with rawResource({ typeUrl, value }, { name })`,
    );
  };
  return { encode: refuse, decode: refuse, fromPartial: refuse };
}

/**
 * Registers a resource type of the application's own, so that snapshots, the linear cache and the server
 * (SotW and delta, on ADS) serve it like a built-in one. Its resources come after every built-in type in
 * make-before-break order. Throws {@link XdsKitError} `INVALID_ARGUMENT` for a type URL without a message name, or
 * a type URL or kind already in use. Registration is process-wide and cannot be undone.
 */
export function registerResourceType<T = unknown>(options: CustomResourceTypeOptions<T>): ResourceType<T> {
  const where = "registerResourceType";
  if (typeof options !== "object" || options === null)
    throw new XdsKitError("INVALID_ARGUMENT", `${where}: expected options { typeUrl, kind?, codec?, nameOf? }`);
  const { typeUrl } = options;
  if (typeof typeUrl !== "string" || !/^[^/\s]+\/[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)+$/.test(typeUrl))
    throw new XdsKitError(
      "INVALID_ARGUMENT",
      `${where}: typeUrl must be "<host>/<full message name>", e.g. "type.googleapis.com/example.v1.Widget", got ${JSON.stringify(typeUrl)}`,
    );
  if (byTypeUrl.has(typeUrl)) throw new XdsKitError("INVALID_ARGUMENT", `${where}: ${typeUrl} is already served`);
  const messageName = messageNameOf(typeUrl);
  const kind = options.kind ?? messageName;
  if (typeof kind !== "string" || kind === "" || resourceTypeOfKind(kind))
    throw new XdsKitError("INVALID_ARGUMENT", `${where}: kind ${JSON.stringify(kind)} is already in use or empty`);
  if (options.codec !== undefined && typeof options.codec?.encode !== "function")
    throw new XdsKitError("INVALID_ARGUMENT", `${where}: codec must have encode and decode (a generated codec)`);
  const nameOf = options.nameOf ?? ((resource: T) => (resource as { name?: string } | null)?.name ?? "");
  const type: ResourceType<T> = Object.freeze({
    kind,
    service: kind,
    grpcService: ADS_SERVICE,
    restPath: undefined,
    messageName,
    typeUrl,
    codec: options.codec ?? (rawOnlyCodec(typeUrl) as MessageCodec<T>),
    nameOf,
    sotwAllRequired: options.sotwAllRequired ?? false,
    orderRank: 100 + customByKind.size,
    deltaOnly: false,
    collectionOf: undefined,
  });
  byTypeUrl.set(typeUrl, type as ResourceType);
  customByKind.set(kind, type as ResourceType);
  return type;
}

/** `type.googleapis.com/<messageName>`. */
export function typeUrlOf(messageName: string): string {
  return TYPE_URL_PREFIX + messageName;
}

/** The message name of a type URL (whatever its host part), e.g. `envoy.config.cluster.v3.Cluster`. */
export function messageNameOf(typeUrl: string): string {
  const slash = typeUrl.lastIndexOf("/");
  return slash < 0 ? typeUrl : typeUrl.slice(slash + 1);
}
