import { XdsKitError } from "@xdskit/core";
import { describe, expect, it } from "vitest";
import { compileRe2, re2FullMatch, re2ReplaceAll, translateRe2 } from "./re2.js";

describe("RE2 full matches", () => {
  it.each([
    ["/api/v[0-9]+", "/api/v12", true],
    ["/api/v[0-9]+", "/api/v12/x", false],
    ["/api/v[0-9]+", "x/api/v1", false],
    ["a|ab", "ab", true],
    ["(?i)jason", "JaSoN", true],
    ["jason", "JASON", false],
    ["\\d{3}", "123", true],
    ["\\d{3}", "1234", false],
    ["a{,2}", "a{,2}", true],
    ["x{2}y", "xxy", true],
    ["\\-\\.\\/", "-./", true],
    ["[[:digit:]]+", "42", true],
    ["[[:alpha:]_]+", "ab_c", true],
    ["\\s", "\u00a0", false],
    ["\\s", "\t", true],
    ["\\S+", "ab", true],
    ["(?P<ver>v[12])", "v2", true],
    ["\\Qa.b\\E", "a.b", true],
    ["\\Qa.b\\E", "axb", false],
    ["\\x{41}\\x42", "AB", true],
    ["\\pL+", "héllo", true],
    ["[]a]+", "]a]", true],
    ["\\Aab\\z", "ab", true],
    ["(?s).+", "a\nb", true],
    [".+", "a\nb", false],
    ["a$", "a\n", false],
    ["^/v1/.*$", "/v1/x", true],
  ])("%s against %j → %s", (pattern, text, expected) => {
    expect(re2FullMatch(pattern, text)).toBe(expected);
  });

  it.each([
    ["(?=a)", "lookaround"],
    ["(?<!a)b", "lookaround"],
    ["(a)\\1", "backreferences"],
    ["a(?i)b", "inline flags"],
    ["(?U)a+", "ungreedy"],
    ["\\C", "any byte"],
    ["\\q", "unknown escape"],
    ["[a", "missing closing ]"],
    ["a{1001}", "limit of 1000"],
    ["(a", "RE2 pattern"],
  ])("refuses %s with a clear error (%s)", (pattern, fragment) => {
    let error: unknown;
    try {
      compileRe2(pattern);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(XdsKitError);
    expect((error as XdsKitError).code).toBe("INVALID_ARGUMENT");
    expect((error as Error).message).toContain(fragment);
    expect((error as Error).message).toContain(pattern);
  });

  it("translates leading flags into RegExp flags", () => {
    expect(translateRe2("(?is)a.b")).toEqual({ source: "a.b", flags: "is" });
  });
});

describe("RE2 global replace (regex_rewrite)", () => {
  it("replaces every match and expands \\N groups", () => {
    expect(re2ReplaceAll("^/service/([^/]+)(/.*)$", "/service/foo/v1/api", "\\2/instance/\\1")).toBe(
      "/v1/api/instance/foo",
    );
    expect(re2ReplaceAll("o", "foo/boo", "0")).toBe("f00/b00");
    expect(re2ReplaceAll("x*", "abc", "-")).toBe("-a-b-c-");
    expect(re2ReplaceAll("(a)", "a", "\\\\\\1\\0")).toBe("\\aa");
  });
});
