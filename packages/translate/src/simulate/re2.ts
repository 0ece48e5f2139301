// RE2 patterns (Envoy's safe_regex) translated to JavaScript RegExps. Envoy matches with RE2's FullMatch
// (the whole value, not a substring) and rewrites with GlobalReplace. The translation keeps RE2's meaning
// where JavaScript differs (\s is ASCII whitespace, escaped punctuation, literal braces, \A and \z, POSIX
// classes, (?P<name>...)) and refuses, with the offset, what has no exact JavaScript equivalent or what RE2
// itself rejects (lookarounds, backreferences, inline flags past the start, \C, (?U)).
import { XdsKitError } from "@xdskit/core";

/** An RE2 pattern compiled for full matches and for global replacement. */
export interface Re2Pattern {
  readonly pattern: string;
  /** Anchored at both ends: RE2's FullMatch. */
  readonly full: RegExp;
  /** Unanchored and global: RE2's GlobalReplace. */
  readonly global: RegExp;
}

const cache = new Map<string, Re2Pattern>();

/** Compiles an RE2 pattern; throws XdsKitError INVALID_ARGUMENT naming the pattern, offset and reason. */
export function compileRe2(pattern: string): Re2Pattern {
  const cached = cache.get(pattern);
  if (cached) return cached;
  const { source, flags } = translateRe2(pattern);
  let full: RegExp;
  let global: RegExp;
  try {
    full = new RegExp(`(?<![\\s\\S])(?:${source})(?![\\s\\S])`, `${flags}u`);
    global = new RegExp(source, `${flags}gu`);
  } catch (cause) {
    throw new XdsKitError("INVALID_ARGUMENT", `RE2 pattern "${pattern}": ${(cause as Error).message}`, { cause });
  }
  const compiled = { pattern, full, global };
  if (cache.size > 1000) cache.clear();
  cache.set(pattern, compiled);
  return compiled;
}

/** RE2's FullMatch: does the whole of `text` match `pattern`? */
export function re2FullMatch(pattern: string, text: string): boolean {
  return compileRe2(pattern).full.test(text);
}

/**
 * RE2's GlobalReplace: every non-overlapping match of `pattern` in `text` replaced by `substitution`, where
 * `\0`..`\9` insert the match and its groups and `\\` a backslash (Envoy's regex_rewrite substitution).
 */
export function re2ReplaceAll(pattern: string, text: string, substitution: string): string {
  const { global } = compileRe2(pattern);
  global.lastIndex = 0;
  return text.replace(global, (...args: unknown[]) => {
    // (match, ...captures, offset, text, namedGroups?): the captures end at the first number.
    const groups = args.slice(
      0,
      args.findIndex((arg, index) => index > 0 && typeof arg === "number"),
    );
    let out = "";
    for (let i = 0; i < substitution.length; i++) {
      const c = substitution[i];
      if (c === "\\" && i + 1 < substitution.length) {
        const next = substitution[i + 1] ?? "";
        if (next >= "0" && next <= "9") {
          const group = groups[Number(next)];
          out += typeof group === "string" ? group : "";
          i++;
          continue;
        }
        if (next === "\\") {
          out += "\\";
          i++;
          continue;
        }
      }
      out += c;
    }
    return out;
  });
}

// RE2's \s: ASCII whitespace without \v.
const SPACE = "\\t\\n\\f\\r ";

const POSIX: Record<string, string> = {
  alnum: "0-9A-Za-z",
  alpha: "A-Za-z",
  ascii: "\\x00-\\x7f",
  blank: "\\t ",
  cntrl: "\\x00-\\x1f\\x7f",
  digit: "0-9",
  graph: "!-~",
  lower: "a-z",
  print: " -~",
  punct: "!-\\/:-@\\[-`{-~",
  space: "\\t\\n\\v\\f\\r ",
  upper: "A-Z",
  word: "0-9A-Za-z_",
  xdigit: "0-9A-Fa-f",
};

const hex = (c: string) => `\\u{${(c.codePointAt(0) ?? 0).toString(16)}}`;
const isWordChar = (c: string) => /[0-9A-Za-z_]/.test(c);

/** RE2 syntax to a JavaScript RegExp source (for the `u` flag) and flags. */
export function translateRe2(pattern: string): { source: string; flags: string } {
  const fail = (at: number, why: string): never => {
    throw new XdsKitError("INVALID_ARGUMENT", `RE2 pattern "${pattern}" at offset ${at}: ${why}`);
  };
  let flags = "";
  let i = 0;
  // Flags are only translatable at the very start, where they apply to the whole pattern.
  const leading = /^\(\?([imsU]+)\)/.exec(pattern);
  if (leading?.[1]) {
    for (const f of leading[1]) {
      if (f === "U") fail(0, "(?U) ungreedy mode has no JavaScript equivalent");
      if (!flags.includes(f)) flags += f;
    }
    i = leading[0].length;
  }
  let out = "";
  const chars = [...pattern.slice(i)];
  const base = i;
  let k = 0;
  const at = () => base + k;

  /** A \p or \P class name to its JavaScript spelling. */
  const unicodeClass = (negated: boolean): string => {
    let name: string;
    if (chars[k] === "{") {
      const end = chars.indexOf("}", k);
      if (end < 0) fail(at(), "unterminated \\p{...}");
      name = chars.slice(k + 1, end).join("");
      k = end + 1;
    } else {
      name = chars[k] ?? "";
      if (!name) fail(at(), "\\p needs a class name");
      k++;
    }
    let neg = negated;
    if (name.startsWith("^")) {
      neg = !neg;
      name = name.slice(1);
    }
    const spelled = name === "Any" ? "Any" : /^[A-Z][a-z]?$/.test(name) ? name : `Script=${name}`;
    return `\\${neg ? "P" : "p"}{${spelled}}`;
  };

  /** An escape after the backslash at chars[k-1]; `inClass` changes what \s, \S and \b mean. */
  const translateEscape = (inClass: boolean): string => {
    const c = chars[k];
    if (c === undefined) return fail(at(), "trailing backslash");
    k++;
    switch (c) {
      case "d":
      case "D":
      case "w":
      case "W":
      case "n":
      case "t":
      case "r":
      case "f":
      case "v":
        return `\\${c}`;
      case "a":
        return "\\x07";
      case "s":
        return inClass ? SPACE : `[${SPACE}]`;
      case "S":
        if (inClass) return fail(at() - 2, "\\S inside a character class is not supported by this translator");
        return `[^${SPACE}]`;
      case "b":
      case "B":
        if (inClass) return fail(at() - 2, `\\${c} is not allowed in a character class`);
        return `\\${c}`;
      case "A":
        if (inClass) return fail(at() - 2, "\\A is not allowed in a character class");
        return "(?<![\\s\\S])";
      case "z":
        if (inClass) return fail(at() - 2, "\\z is not allowed in a character class");
        return "(?![\\s\\S])";
      case "x": {
        if (chars[k] === "{") {
          const end = chars.indexOf("}", k);
          const digits = end < 0 ? "" : chars.slice(k + 1, end).join("");
          if (!/^[0-9A-Fa-f]{1,6}$/.test(digits)) fail(at() - 2, "bad \\x{...} escape");
          k = end + 1;
          return `\\u{${digits}}`;
        }
        const two = chars.slice(k, k + 2).join("");
        if (!/^[0-9A-Fa-f]{2}$/.test(two)) fail(at() - 2, "bad \\x escape");
        k += 2;
        return `\\x${two}`;
      }
      case "p":
      case "P":
        return unicodeClass(c === "P");
      case "Q": {
        if (inClass) return fail(at() - 2, "\\Q inside a character class is not supported");
        let literal = "";
        while (k < chars.length && !(chars[k] === "\\" && chars[k + 1] === "E")) literal += hex(chars[k++] ?? "");
        if (k < chars.length) k += 2;
        return literal;
      }
      case "E":
        return "";
      case "C":
        return fail(at() - 2, "\\C (any byte) is not supported");
      case "Z":
        return fail(at() - 2, "\\Z is not RE2 syntax (use \\z)");
      default:
        if (c >= "0" && c <= "9") return fail(at() - 2, "backreferences and octal escapes are not supported by RE2");
        if (isWordChar(c)) return fail(at() - 2, `unknown escape \\${c}`);
        return hex(c);
    }
  };

  const charClass = (): string => {
    // chars[k-1] was "["
    let body = "";
    let negated = false;
    if (chars[k] === "^") {
      negated = true;
      k++;
    }
    let first = true;
    for (;;) {
      const c = chars[k];
      if (c === undefined) return fail(at(), "missing closing ]");
      if (c === "]" && !first) {
        k++;
        break;
      }
      first = false;
      if (c === "[" && chars[k + 1] === ":") {
        const end = chars.indexOf("]", k + 2);
        const spec = end < 0 ? "" : chars.slice(k + 2, end).join("");
        if (!spec.endsWith(":")) {
          body += "\\[";
          k++;
          continue;
        }
        let name = spec.slice(0, -1);
        let neg = false;
        if (name.startsWith("^")) {
          neg = true;
          name = name.slice(1);
        }
        const ranges = POSIX[name];
        if (!ranges) return fail(at(), `unknown POSIX class [:${name}:]`);
        if (neg) return fail(at(), "negated POSIX classes inside a class are not supported by this translator");
        body += ranges;
        k = end + 1;
        continue;
      }
      k++;
      if (c === "\\") body += translateEscape(true);
      else if (c === "[" || c === "]" || c === "/" || c === "{" || c === "}" || c === "(" || c === ")" || c === "|")
        body += `\\${c}`;
      else body += c;
    }
    return `[${negated ? "^" : ""}${body}]`;
  };

  while (k < chars.length) {
    const c = chars[k] ?? "";
    k++;
    if (c === "\\") {
      out += translateEscape(false);
    } else if (c === "[") {
      out += charClass();
    } else if (c === "(") {
      if (chars[k] !== "?") {
        out += "(";
        continue;
      }
      const rest = chars.slice(k + 1, k + 4).join("");
      if (rest.startsWith(":")) {
        out += "(?:";
        k += 2;
      } else if (rest.startsWith("P<") || (rest.startsWith("<") && rest[1] !== "=" && rest[1] !== "!")) {
        const open = chars.indexOf("<", k);
        const close = chars.indexOf(">", open);
        const name = close < 0 ? "" : chars.slice(open + 1, close).join("");
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) fail(at() - 1, "bad group name");
        out += `(?<${name}>`;
        k = close + 1;
      } else if (rest.startsWith("=") || rest.startsWith("!") || rest.startsWith("<=") || rest.startsWith("<!")) {
        fail(at() - 1, "lookaround assertions are not supported by RE2");
      } else if (rest.startsWith("P=") || rest.startsWith("P>")) {
        fail(at() - 1, "backreferences are not supported by RE2");
      } else {
        fail(at() - 1, "inline flags are only supported at the start of the pattern");
      }
    } else if (c === "{") {
      // A repetition only when it reads {n}, {n,} or {n,m}; otherwise RE2 takes the brace literally.
      const close = chars.indexOf("}", k);
      const inner = close < 0 ? "" : chars.slice(k, close).join("");
      if (/^\d+(,\d*)?$/.test(inner)) {
        const [min, max] = inner.split(",").map((n) => (n === "" ? undefined : Number(n)));
        if ((min ?? 0) > 1000 || (max ?? 0) > 1000) fail(at() - 1, "repetition count above RE2's limit of 1000");
        out += `{${inner}}`;
        k = close + 1;
      } else out += "\\{";
    } else if (c === "}") {
      out += "\\}";
    } else if (c === "/") {
      out += "\\/";
    } else {
      out += c;
    }
  }
  return { source: out, flags };
}
