// Requested resource names as the server compares them.
import { isXdstpName, parseXdstpName, type XdstpName } from "@xdskit/core";

/**
 * Canonical forms of requested names: xdstp:// context parameters sorted (XDS-RULES R33). A malformed xdstp
 * name, or a glob collection where globs are not allowed (SotW, REST, Fetch*: collections are delta-only, R35),
 * is refused with the error `refuse` makes of the reason.
 */
export function canonicalNames(
  names: readonly string[],
  globsAllowed: boolean,
  refuse: (reason: string) => Error,
): readonly string[] {
  if (!names.some(isXdstpName)) return names;
  return names.map((name) => {
    if (!isXdstpName(name)) return name;
    let parsed: XdstpName;
    try {
      parsed = parseXdstpName(name);
    } catch (error) {
      throw refuse((error as Error).message);
    }
    if (parsed.glob && !globsAllowed)
      throw refuse(`"${name}" is an xdstp glob collection; collections are served over delta xDS only`);
    return parsed.source;
  });
}

/** The glob collections among subscribed names (R34), or undefined when there are none. */
export function globsOf(names: ReadonlySet<string>): XdstpName[] | undefined {
  const globs: XdstpName[] = [];
  for (const name of names) {
    if (!isXdstpName(name) || !name.includes("/*")) continue;
    const parsed = parseXdstpName(name);
    if (parsed.glob) globs.push(parsed);
  }
  return globs.length > 0 ? globs : undefined;
}
