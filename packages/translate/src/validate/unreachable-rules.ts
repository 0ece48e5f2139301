// Routes of a VirtualService that can never be taken: rules after a catch-all rule, matches repeated from
// an earlier rule, and prefix matches covered by an earlier prefix. Istio's webhook warns about them; its
// analyzer reports them as IST0130 (rule not used) and IST0131 (match not used).
import type { HTTPMatchRequest, StringMatch, VirtualService } from "@xdskit/core/istio";
import { dict, list, type Report } from "./report.js";

export const VIRTUAL_SERVICE_UNREACHABLE_RULE = "IST0130";
export const VIRTUAL_SERVICE_INEFFECTIVE_MATCH = "IST0131";

/** A stable text of a match without its name and unset fields: equal texts match the same requests. */
function canonical(value: unknown): string {
  const strip = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.length ? v.map(strip) : undefined;
    if (v && typeof v === "object") {
      const out: Record<string, unknown> = {};
      for (const key of Object.keys(v).sort()) {
        const item = strip((v as Record<string, unknown>)[key]);
        if (item !== undefined) out[key] = item;
      }
      return Object.keys(out).length ? out : undefined;
    }
    return v === "" || v === 0 || v === false || v === null ? undefined : v;
  };
  return JSON.stringify(strip(value) ?? {});
}

const ruleName = (name: string | undefined, index: number) => (name ? JSON.stringify(name) : `#${index}`);

interface PrefixMatch {
  readonly rule: string;
  readonly match: string;
  readonly prefix: string;
  readonly port: number;
  readonly method: string;
  readonly authority: string;
  readonly headers: Record<string, string>;
  readonly queryParams: Record<string, string>;
  readonly withoutHeaders: Record<string, string>;
}

const exactOrPrefix = (m: StringMatch | undefined) =>
  m?.exact ? `exact:${m.exact}` : m?.prefix ? `prefix:${m.prefix}` : "";

function prefixMatchOf(match: HTTPMatchRequest, rule: string, matchName: string): PrefixMatch | undefined {
  const prefix = match.uri?.prefix;
  if (!prefix) return undefined;
  const mapOf = (m: Readonly<Record<string, StringMatch>>) =>
    Object.fromEntries(Object.entries(m).map(([k, v]) => [k, exactOrPrefix(v)]));
  return {
    rule,
    match: matchName,
    prefix,
    port: match.port ?? 0,
    method: exactOrPrefix(match.method) || "exact:GET",
    authority: exactOrPrefix(match.authority),
    headers: mapOf(dict(match.headers)),
    queryParams: mapOf(dict(match.queryParams)),
    withoutHeaders: mapOf(dict(match.withoutHeaders)),
  };
}

/** Does the earlier match `a` take every request the later match `b` would? (Istio's approximation.) */
function covers(a: PrefixMatch, b: PrefixMatch): boolean {
  if (!b.prefix.startsWith(a.prefix) || a.port !== b.port) return false;
  if (a.method !== b.method && !a.method.startsWith(b.method)) return false;
  if (a.authority !== b.authority && !a.authority.startsWith(b.authority)) return false;
  const sameKeys = (x: Record<string, string>, y: Record<string, string>) =>
    Object.keys(x).length === Object.keys(y).length &&
    Object.entries(x).every(([k, v]) => k in y && (v === y[k] || v.startsWith(y[k] as string)));
  return (
    sameKeys(a.headers, b.headers) &&
    sameKeys(a.queryParams, b.queryParams) &&
    sameKeys(a.withoutHeaders, b.withoutHeaders)
  );
}

function analyzeRules(
  rules: ReadonlyArray<{ name?: string; match?: readonly unknown[] }>,
  section: string,
  report: Report,
  prefixMatches?: PrefixMatch[],
): void {
  const seen = new Map<string, number>();
  let catchAll = -1;
  for (const [i, rule] of rules.entries()) {
    const name = ruleName(rule.name, i);
    const path = `spec.${section}[${i}]`;
    const unused = (reason: string) =>
      report.warning(path, `VirtualService rule ${name} not used (${reason}).`, VIRTUAL_SERVICE_UNREACHABLE_RULE);
    const matches = list(rule.match);
    if (matches.length === 0) {
      if (catchAll >= 0) unused("only the last rule can have no matches");
      catchAll = i;
      continue;
    }
    let duplicates = 0;
    for (const [j, match] of matches.entries()) {
      if (catchAll >= 0) {
        unused("route without matches defined before");
        continue;
      }
      const { name: matchName, ...rest } = match as { name?: string };
      const key = canonical(rest);
      const earlier = seen.get(key);
      const label = ruleName(matchName, j);
      if (earlier !== undefined) {
        report.warning(
          `${path}.match[${j}]`,
          `VirtualService rule ${name} match ${label} is not used (duplicate/overlapping match in rule ${ruleName(rules[earlier]?.name, earlier)}).`,
          VIRTUAL_SERVICE_INEFFECTIVE_MATCH,
        );
        duplicates++;
        continue;
      }
      seen.set(key, i);
      if (prefixMatches) {
        const prefix = prefixMatchOf(match as HTTPMatchRequest, name, label);
        if (prefix) prefixMatches.push({ ...prefix, rule: `${i}:${name}`, match: `${j}:${label}` });
      }
    }
    if (duplicates === matches.length) unused("all matches used by prior rules");
  }
}

export function analyzeUnreachableRules(vs: VirtualService, report: Report): void {
  const prefixes: PrefixMatch[] = [];
  analyzeRules(list(vs.http), "http", report, prefixes);
  analyzeRules(list(vs.tcp), "tcp", report);
  analyzeRules(list(vs.tls), "tls", report);
  const split = (s: string) => [Number(s.slice(0, s.indexOf(":"))), s.slice(s.indexOf(":") + 1)] as const;
  for (const [i, earlier] of prefixes.entries())
    for (const later of prefixes.slice(i + 1)) {
      if (later.prefix === earlier.prefix || !covers(earlier, later)) continue;
      const [ruleIndex, rule] = split(later.rule);
      const [matchIndex, match] = split(later.match);
      const [, earlierRule] = split(earlier.rule);
      const [, earlierMatch] = split(earlier.match);
      report.warning(
        `spec.http[${ruleIndex}].match[${matchIndex}]`,
        `VirtualService rule ${rule} match ${match} of prefix ${later.prefix} is not used (duplicate/overlapping match in rule ${earlierMatch} of prefix ${earlier.prefix} on ${earlierRule}).`,
        VIRTUAL_SERVICE_INEFFECTIVE_MATCH,
      );
    }
}
