// xDS transport-protocol resource names (XDS-RULES R33-R35):
//   xdstp://[authority]/{resource type}/{id}?{context params}#{directives}
import { XdsKitError } from "./errors.js";
import { type ResourceLocator, ResourceLocator_Scheme } from "./gen/xds/core/v3/resource_locator.js";

export interface XdstpName {
  /** The canonical name this was parsed from (see canonicalResourceName). */
  readonly source: string;
  readonly authority: string;
  /** Fully qualified message name, e.g. envoy.config.cluster.v3.Cluster. */
  readonly resourceType: string;
  /** The id path; for a glob collection it ends in "/*". */
  readonly id: string;
  /** Context parameters, sorted by key. */
  readonly context: ReadonlyArray<readonly [string, string]>;
  /** `alt=` and `entry=` directives (not part of the resource's identity). */
  readonly directives: ReadonlyArray<readonly [string, string]>;
  /** The id ends in "/*": every resource under that path. */
  readonly glob: boolean;
}

const SCHEME = "xdstp://";

export function isXdstpName(name: string): boolean {
  return name.startsWith(SCHEME);
}

/** Parses an xdstp:// name; throws XdsKitError INVALID_ARGUMENT naming the problem. */
export function parseXdstpName(name: string): XdstpName {
  if (!isXdstpName(name)) throw new XdsKitError("INVALID_ARGUMENT", `"${name}" is not an xdstp:// name`);
  const rest = name.slice(SCHEME.length);
  const hash = rest.indexOf("#");
  const beforeHash = hash < 0 ? rest : rest.slice(0, hash);
  const fragment = hash < 0 ? "" : rest.slice(hash + 1);
  const query = beforeHash.indexOf("?");
  const path = query < 0 ? beforeHash : beforeHash.slice(0, query);
  const params = query < 0 ? "" : beforeHash.slice(query + 1);
  const [authority = "", resourceType = "", ...idParts] = path.split("/");
  if (!resourceType) throw new XdsKitError("INVALID_ARGUMENT", `xdstp name "${name}" has no resource type`);
  const id = idParts.join("/");
  const pairs = (text: string, separator: RegExp) =>
    text
      ? text.split(separator).map((p) => {
          const eq = p.indexOf("=");
          return [
            decodeURIComponent(eq < 0 ? p : p.slice(0, eq)),
            decodeURIComponent(eq < 0 ? "" : p.slice(eq + 1)),
          ] as const;
        })
      : [];
  const context = pairs(params, /[&,]/).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : 1));
  return {
    source: render(authority, resourceType, id, context),
    authority,
    resourceType,
    id,
    context,
    // Directives are comma separated; a directive's value (an alt= URL) may hold its own "&".
    directives: pairs(fragment, /,/),
    glob: id === "*" || id.endsWith("/*"),
  };
}

function render(authority: string, resourceType: string, id: string, context: XdstpName["context"]): string {
  const query = context.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join("&");
  return `${SCHEME}${authority}/${resourceType}/${id}${query ? `?${query}` : ""}`;
}

/**
 * The canonical form of a name: xdstp names with context parameters sorted and directives dropped, so
 * that names equal up to parameter order compare equal (R33). Other names are returned unchanged.
 */
export function canonicalResourceName(name: string): string {
  if (!isXdstpName(name)) return name;
  return parseXdstpName(name).source;
}

/**
 * Whether `name` is a member of the glob collection `glob` (R34): same authority, type and context
 * parameters, and an id under the glob's path.
 */
export function globContains(glob: XdstpName, name: string): boolean {
  if (!isXdstpName(name)) return false;
  const member = parseXdstpName(name);
  if (member.glob || member.authority !== glob.authority || member.resourceType !== glob.resourceType) return false;
  if (member.context.length !== glob.context.length) return false;
  for (let i = 0; i < member.context.length; i++) {
    const a = member.context[i];
    const b = glob.context[i];
    if (a?.[0] !== b?.[0] || a?.[1] !== b?.[1]) return false;
  }
  const prefix = glob.id.slice(0, -1); // keep the trailing "/" ("" for a bare "*")
  return member.id.startsWith(prefix) && member.id.length > prefix.length;
}

/**
 * The `xds.core.v3.ResourceLocator` of an xdstp:// URL, as list collections carry their members' locators
 * (R35): authority, resource type, id, context parameters (`exact_context`) and the `alt=` / `entry=`
 * directives (an `alt=` URL becomes a nested locator). Throws XdsKitError INVALID_ARGUMENT naming the problem.
 */
export function resourceLocatorOf(url: string): ResourceLocator {
  const parsed = parseXdstpName(url);
  const params: Record<string, string> = {};
  for (const [key, value] of parsed.context) {
    if (key in params)
      throw new XdsKitError("INVALID_ARGUMENT", `xdstp URL "${url}" repeats the context parameter "${key}"`);
    params[key] = value;
  }
  const directives = parsed.directives.map(([key, value]) => {
    if (key === "alt") return { alt: resourceLocatorOf(value) };
    if (key === "entry") return { entry: value };
    throw new XdsKitError(
      "INVALID_ARGUMENT",
      `xdstp URL "${url}" has the directive "${key}"; known are alt= and entry=`,
    );
  });
  return {
    scheme: ResourceLocator_Scheme.XDSTP,
    authority: parsed.authority,
    resourceType: parsed.resourceType,
    id: parsed.id,
    ...(parsed.context.length > 0 ? { exactContext: { params } } : {}),
    directives,
  };
}

/**
 * The xdstp:// URL of a `ResourceLocator` (the inverse of {@link resourceLocatorOf}): context parameters
 * sorted, directives after `#`, comma separated. A client reading a list collection subscribes to a
 * locator's member under this name. Throws XdsKitError INVALID_ARGUMENT for the http:// and file:// schemes.
 */
export function resourceLocatorUrl(locator: ResourceLocator): string {
  if ((locator.scheme ?? ResourceLocator_Scheme.XDSTP) !== ResourceLocator_Scheme.XDSTP)
    throw new XdsKitError(
      "INVALID_ARGUMENT",
      `resourceLocatorUrl: only xdstp:// locators have a resource name (scheme ${locator.scheme})`,
    );
  const context = Object.entries(locator.exactContext?.params ?? {}).sort((a, b) =>
    a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0,
  );
  const base = render(locator.authority ?? "", locator.resourceType ?? "", locator.id ?? "", context);
  const directives = (locator.directives ?? []).flatMap((d) => [
    ...(d.alt ? [`alt=${encodeDirective(resourceLocatorUrl(d.alt))}`] : []),
    ...(d.entry ? [`entry=${encodeDirective(d.entry)}`] : []),
  ]);
  return directives.length > 0 ? `${base}#${directives.join(",")}` : base;
}

/** Percent-encodes the characters a directive value may not hold: `,` `#` `[` `]` `%` (xds.core.v3 ResourceLocator). */
function encodeDirective(value: string): string {
  return value.replace(/[%,#[\]]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`);
}
