// Test files → test cases: each YAML/JSON document is read in the format its shape says (xdskit's `tests`
// with request/expect, istio-config-validator's `testCases`, router_check_tool's tests with test_name).
import { parseAllDocuments } from "yaml";
import { isEnvoyTests, parseEnvoyTests } from "./envoy-format.js";
import { isIcvTests, parseIcvTests } from "./icv-format.js";
import { type RouteTestCase, RouteTestFileError } from "./model.js";
import { isXdskitTests, parseXdskitTests } from "./xdskit-format.js";

/** Parses the text of one test file; `warn` receives fields a format tolerates but xdskit ignores. */
export function parseRouteTestFile(file: string, text: string, warn: (text: string) => void): RouteTestCase[] {
  const out: RouteTestCase[] = [];
  const docs = parseAllDocuments(text);
  if (!Array.isArray(docs)) return out; // an empty stream
  for (const [d, doc] of docs.entries()) {
    const where = docs.length > 1 ? `${file} (document ${d + 1})` : file;
    const error = doc.errors[0];
    if (error) {
      const at = error.linePos?.[0];
      throw new RouteTestFileError(`${file}${at ? `:${at.line}:${at.col}` : ""}: ${error.message.split("\n")[0]}`);
    }
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    if (isIcvTests(value)) out.push(...parseIcvTests(value as Record<string, unknown>, where, warn));
    else if (isEnvoyTests(value)) out.push(...parseEnvoyTests(value, where));
    else if (isXdskitTests(value)) out.push(...parseXdskitTests(value as Record<string, unknown>, where));
    else
      throw new RouteTestFileError(
        `${where}: not a route test file: expected "tests" (xdskit: name, request, expect; or router_check_tool: test_name, input, validate) or "testCases" (istio-config-validator)`,
      );
  }
  return out;
}
