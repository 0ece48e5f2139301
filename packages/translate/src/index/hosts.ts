// Host names as Istio reads them: short names resolve against the namespace of the object that wrote
// them, `*.example.com` is a suffix wildcard, `*` matches everything, and exportTo decides who sees what.

/**
 * `reviews` written in namespace `default` is `reviews.default.svc.cluster.local`; names with a dot, IPs
 * and `*` are already fully qualified (Istio's ResolveShortnameToFQDN).
 */
export function resolveHost(host: string, namespace: string, domainSuffix: string): string {
  if (host === "*" || host.includes(".") || host.includes(":")) return host.toLowerCase();
  return `${host}.${namespace}.svc.${domainSuffix}`.toLowerCase();
}

/** True when the (possibly wildcard) `pattern` matches the concrete or wildcard `host`. */
export function hostMatches(pattern: string, host: string): boolean {
  if (pattern === "*" || pattern === host) return true;
  if (pattern.startsWith("*")) {
    const suffix = pattern.slice(1); // ".example.com"
    if (host.startsWith("*")) return host.slice(1).endsWith(suffix);
    return host.endsWith(suffix);
  }
  return false;
}

/** Either side may be the wildcard: the two host sets overlap. */
export function hostsOverlap(a: string, b: string): boolean {
  return hostMatches(a, b) || hostMatches(b, a);
}

/**
 * Of the patterns that match `host`, the most specific: an exact name, else the longest wildcard
 * (Istio's MostSpecificHostMatch).
 */
export function mostSpecificMatch(host: string, patterns: Iterable<string>): string | undefined {
  let best: string | undefined;
  for (const pattern of patterns) {
    if (pattern === host) return pattern;
    if (!hostMatches(pattern, host)) continue;
    if (best === undefined || pattern.length > best.length) best = pattern;
  }
  return best;
}

/** Whether an object in `objectNamespace` with `exportTo` is visible from `viewerNamespace`. */
export function isVisible(exportTo: readonly string[], objectNamespace: string, viewerNamespace: string): boolean {
  if (exportTo.length === 0) return true;
  for (const to of exportTo) {
    if (to === "*") return true;
    if (to === "." && objectNamespace === viewerNamespace) return true;
    if (to === viewerNamespace) return true;
  }
  return false;
}
