// Envoy's request matchers over a request's headers and query: StringMatcher, HeaderMatcher and
// QueryParameterMatcher, each answering whether it matched and, when it did not, why (for explain()).
import type { RouteConfiguration } from "@xdskit/core";
import { re2FullMatch } from "./re2.js";

export type VirtualHostConfig = NonNullable<RouteConfiguration["virtualHosts"]>[number];
export type RouteConfig = NonNullable<VirtualHostConfig["routes"]>[number];
export type RouteMatchConfig = NonNullable<RouteConfig["match"]>;
export type HeaderMatcherConfig = NonNullable<RouteMatchConfig["headers"]>[number];
export type QueryParameterMatcherConfig = NonNullable<RouteMatchConfig["queryParameters"]>[number];
export type StringMatcherConfig = NonNullable<HeaderMatcherConfig["stringMatch"]>;

/** A matcher's verdict; `reason` says why it did not match (or what matched). */
export interface MatchVerdict {
  matched: boolean;
  reason: string;
}

const quote = (value: string) => JSON.stringify(value);

/** Envoy's StringMatcher (exact, prefix, suffix, contains with ignore_case; safe_regex as a full RE2 match). */
export function matchString(matcher: StringMatcherConfig, value: string): boolean {
  const fold = matcher.ignoreCase === true;
  const v = fold ? value.toLowerCase() : value;
  const f = (s: string) => (fold ? s.toLowerCase() : s);
  if (matcher.exact !== undefined) return v === f(matcher.exact);
  if (matcher.prefix !== undefined) return v.startsWith(f(matcher.prefix));
  if (matcher.suffix !== undefined) return v.endsWith(f(matcher.suffix));
  if (matcher.contains !== undefined) return v.includes(f(matcher.contains));
  if (matcher.safeRegex !== undefined) return re2FullMatch(matcher.safeRegex.regex ?? "", value);
  // An empty StringMatcher is rejected by Envoy's validation; treat it as matching nothing.
  return false;
}

/** A StringMatcher as a short phrase ("exact \"jason\"", "regex \"v[0-9]\" (ignoring case)"). */
export function describeStringMatcher(matcher: StringMatcherConfig): string {
  const suffix = matcher.ignoreCase ? " (ignoring case)" : "";
  if (matcher.exact !== undefined) return `exact ${quote(matcher.exact)}${suffix}`;
  if (matcher.prefix !== undefined) return `prefix ${quote(matcher.prefix)}${suffix}`;
  if (matcher.suffix !== undefined) return `suffix ${quote(matcher.suffix)}${suffix}`;
  if (matcher.contains !== undefined) return `contains ${quote(matcher.contains)}${suffix}`;
  if (matcher.safeRegex !== undefined) return `regex ${quote(matcher.safeRegex.regex ?? "")}`;
  return "an empty string matcher";
}

/** Request headers by lower-case name, each with every value in arrival order. */
export type HeaderValues = ReadonlyMap<string, readonly string[]>;

/** Every value of a header (Host is :authority), or undefined when absent. */
export function headerValues(headers: HeaderValues, name: string): readonly string[] | undefined {
  const lower = name.toLowerCase();
  // Envoy stores Host as :authority and finds it under either name.
  const values = headers.get(lower === "host" ? ":authority" : lower);
  return values && values.length > 0 ? values : undefined;
}

/** A header's values joined with "," (how it reads in messages), or undefined when absent. */
export function headerValue(headers: HeaderValues, name: string): string | undefined {
  return headerValues(headers, name)?.join(",");
}

function describeHeaderMatcher(m: HeaderMatcherConfig): string {
  const not = m.invertMatch ? "not " : "";
  if (m.exactMatch !== undefined) return `${not}exact ${quote(m.exactMatch)}`;
  if (m.safeRegexMatch !== undefined) return `${not}regex ${quote(m.safeRegexMatch.regex ?? "")}`;
  if (m.rangeMatch !== undefined) return `${not}an integer in [${m.rangeMatch.start ?? 0}, ${m.rangeMatch.end ?? 0})`;
  if (m.presentMatch !== undefined) return m.presentMatch !== (m.invertMatch === true) ? "present" : "absent";
  if (m.prefixMatch !== undefined) return `${not}prefix ${quote(m.prefixMatch)}`;
  if (m.suffixMatch !== undefined) return `${not}suffix ${quote(m.suffixMatch)}`;
  if (m.containsMatch !== undefined) return `${not}contains ${quote(m.containsMatch)}`;
  if (m.stringMatch !== undefined) return `${not}${describeStringMatcher(m.stringMatch)}`;
  return m.invertMatch ? "absent" : "present";
}

/** Whether one header value satisfies the matcher's specifier (presence aside). */
function matchHeaderValue(matcher: HeaderMatcherConfig, value: string): boolean {
  if (matcher.exactMatch !== undefined) return matcher.exactMatch === "" || value === matcher.exactMatch;
  if (matcher.safeRegexMatch !== undefined) return re2FullMatch(matcher.safeRegexMatch.regex ?? "", value);
  if (matcher.rangeMatch !== undefined) {
    const n = /^[+-]?\d+$/.test(value.trim()) ? Number(value.trim()) : Number.NaN;
    return Number.isFinite(n) && n >= (matcher.rangeMatch.start ?? 0) && n < (matcher.rangeMatch.end ?? 0);
  }
  if (matcher.prefixMatch !== undefined) return value.startsWith(matcher.prefixMatch);
  if (matcher.suffixMatch !== undefined) return value.endsWith(matcher.suffixMatch);
  if (matcher.containsMatch !== undefined) return value.includes(matcher.containsMatch);
  if (matcher.stringMatch !== undefined) return matchString(matcher.stringMatch, value);
  return matcher.presentMatch ?? true;
}

/**
 * Envoy's HeaderMatcher: presence rules for a missing header; otherwise the specifier holds when any one
 * of the header's values satisfies it (Envoy 1.40 tries a header sent several times value by value, not
 * joined), and invert_match negates the outcome.
 */
export function matchHeader(matcher: HeaderMatcherConfig, headers: HeaderValues): MatchVerdict {
  const name = matcher.name ?? "";
  const expected = describeHeaderMatcher(matcher);
  const found = headerValues(headers, name);
  const invert = matcher.invertMatch === true;
  // No specifier at all means "present".
  const isPresence =
    matcher.presentMatch !== undefined ||
    [
      matcher.exactMatch,
      matcher.safeRegexMatch,
      matcher.rangeMatch,
      matcher.prefixMatch,
      matcher.suffixMatch,
      matcher.containsMatch,
      matcher.stringMatch,
    ].every((s) => s === undefined);
  const present = matcher.presentMatch ?? true;
  if (found === undefined && matcher.treatMissingHeaderAsEmpty !== true) {
    const matched = isPresence ? (invert ? present : !present) : false;
    return { matched, reason: `header ${name} is absent (wanted ${expected})` };
  }
  const values = found ?? [""];
  const hit = isPresence ? present : values.some((value) => matchHeaderValue(matcher, value));
  const matched = hit !== invert;
  const shown = values.map(quote).join(", ");
  return { matched, reason: `header ${name}: ${shown} ${matched ? "is" : "is not"} ${expected}` };
}

/** Query parameters of a :path, first value per name wins where Envoy's matcher looks (no decoding). */
export function queryParameters(path: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const q = path.indexOf("?");
  if (q < 0) return out;
  let query = path.slice(q + 1);
  const hash = query.indexOf("#");
  if (hash >= 0) query = query.slice(0, hash);
  for (const part of query.split("&")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    const name = eq < 0 ? part : part.slice(0, eq);
    const value = eq < 0 ? "" : part.slice(eq + 1);
    const list = out.get(name);
    if (list) list.push(value);
    else out.set(name, [value]);
  }
  return out;
}

/** Envoy's QueryParameterMatcher: the first value of the parameter; present_match or no matcher = presence. */
export function matchQueryParameter(
  matcher: QueryParameterMatcherConfig,
  params: ReadonlyMap<string, readonly string[]>,
): MatchVerdict {
  const name = matcher.name ?? "";
  const value = params.get(name)?.[0];
  if (value === undefined) return { matched: false, reason: `query parameter ${name} is absent` };
  if (matcher.presentMatch === true || matcher.stringMatch === undefined)
    return { matched: true, reason: `query parameter ${name} is present` };
  const matched = matchString(matcher.stringMatch, value);
  return {
    matched,
    reason: `query parameter ${name}: ${quote(value)} ${matched ? "is" : "is not"} ${describeStringMatcher(matcher.stringMatch)}`,
  };
}
