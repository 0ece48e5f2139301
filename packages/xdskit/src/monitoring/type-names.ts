// The short names people read in metrics and status tables (istioctl's CDS/LDS/EDS/RDS columns).
import { resourceTypeOf } from "@xdskit/core";

const SHORT_NAMES: Readonly<Record<string, string>> = {
  Cluster: "CDS",
  Listener: "LDS",
  RouteConfiguration: "RDS",
  ClusterLoadAssignment: "EDS",
  Secret: "SDS",
  TypedExtensionConfig: "ECDS",
  ScopedRouteConfiguration: "SRDS",
  VirtualHost: "VHDS",
  Runtime: "RTDS",
};

/** "CDS" for the Cluster type URL; the resource kind for types without a short name; else the URL's last part. */
export function shortTypeName(typeUrl: string): string {
  const kind = resourceTypeOf(typeUrl)?.kind;
  if (kind) return SHORT_NAMES[kind] ?? kind;
  return typeUrl.slice(typeUrl.lastIndexOf(".") + 1) || typeUrl;
}
