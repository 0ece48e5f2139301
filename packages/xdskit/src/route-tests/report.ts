// A route test run as text for people (a diff per failure, with the route that matched and why), and as
// JUnit XML for CI systems.
import type { CaseReport, CoverageReport, RequestReport, RunReport } from "./run.js";

const show = (value: unknown) => (value === undefined ? "(none)" : JSON.stringify(value));
const indent = (text: string, prefix: string) =>
  text
    .split("\n")
    .map((line) => `${prefix}${line}`)
    .join("\n");

function describeMatched(r: RequestReport): string {
  const m = r.matched;
  if (!m.route) return `no route matched (${r.action})`;
  return `route ${JSON.stringify(m.route)} of virtual host ${JSON.stringify(m.virtualHost)} in route configuration ${JSON.stringify(m.routeConfiguration)} → ${r.action}`;
}

/** The failing requests of a case: the request, a field-by-field diff, the route that matched and the trace. */
export function formatFailure(report: CaseReport, withTrace = true): string {
  const lines: string[] = [];
  for (const r of report.requests) {
    if (r.passed) continue;
    lines.push(r.request);
    if (r.error !== undefined) lines.push(`  error: ${r.error}`);
    for (const m of r.mismatches) {
      const not = m.wantMatch === false ? " (wantMatch: false: expected to differ)" : "";
      lines.push(`  ${m.field}:${not}`);
      lines.push(`    expected ${show(m.expected)}`);
      lines.push(`    actual   ${show(m.actual)}`);
    }
    lines.push(`  matched: ${describeMatched(r)}`);
    if (withTrace && r.trace) lines.push("  why:", indent(r.trace, "    "));
  }
  return lines.join("\n");
}

export function formatCoverage(coverage: CoverageReport, listUncovered: boolean): string {
  const lines = [
    `route coverage: ${coverage.covered} of ${coverage.total} routes (${coverage.percent.toFixed(1)}%) in the route configurations the tests reached`,
  ];
  for (const config of coverage.routeConfigurations) {
    lines.push(`  ${config.name}: ${config.covered} of ${config.total}`);
    if (!listUncovered) continue;
    for (const route of config.uncovered)
      lines.push(
        `    not exercised: ${route.virtualHost} / route #${route.index}${route.name ? ` ${JSON.stringify(route.name)}` : ""}`,
      );
  }
  return lines.join("\n");
}

/** The whole run as text: one line per case, failures in detail, then coverage and the summary. */
export function formatRun(run: RunReport, options: { verbose?: boolean } = {}): string {
  const out: string[] = [];
  for (const c of run.cases) {
    const count =
      c.requests.length > 1 ? ` (${c.requests.filter((r) => r.passed).length}/${c.requests.length} requests)` : "";
    out.push(
      `${c.status === "passed" ? "PASS " : c.status === "failed" ? "FAIL " : "ERROR"} ${c.file}: ${c.name}${count}`,
    );
    if (c.status !== "passed") out.push(indent(formatFailure(c), "      "));
  }
  out.push("", formatCoverage(run.coverage, options.verbose !== false));
  out.push(`${run.passed} passed, ${run.failed} failed, ${run.errors} errors (${run.requests} requests)`);
  return `${out.join("\n")}\n`;
}

const xml = (text: string) =>
  text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    // Characters XML 1.0 cannot carry at all.
    // biome-ignore lint/suspicious/noControlCharactersInRegex: removing them is the point
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, "");

/** JUnit XML: one testsuite per test file, one testcase per test case, the diff in <failure>. */
export function formatJunit(run: RunReport, suiteName = "xdskit test"): string {
  const byFile = new Map<string, CaseReport[]>();
  for (const c of run.cases) byFile.set(c.file, [...(byFile.get(c.file) ?? []), c]);
  const seconds = (ms: number) => (ms / 1000).toFixed(3);
  const total = run.cases.reduce((n, c) => n + c.durationMs, 0);
  const out = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${xml(suiteName)}" tests="${run.cases.length}" failures="${run.failed}" errors="${run.errors}" time="${seconds(total)}">`,
  ];
  for (const [file, cases] of byFile) {
    const failures = cases.filter((c) => c.status === "failed").length;
    const errors = cases.filter((c) => c.status === "error").length;
    const time = cases.reduce((n, c) => n + c.durationMs, 0);
    out.push(
      `  <testsuite name="${xml(file)}" tests="${cases.length}" failures="${failures}" errors="${errors}" skipped="0" time="${seconds(time)}">`,
    );
    for (const c of cases) {
      const open = `    <testcase name="${xml(c.name)}" classname="${xml(file)}" time="${seconds(c.durationMs)}"`;
      if (c.status === "passed") {
        out.push(`${open}/>`);
        continue;
      }
      const tag = c.status === "error" ? "error" : "failure";
      const first = c.requests.find((r) => !r.passed);
      const message =
        first?.error ?? `${first?.request}: ${(first?.mismatches ?? []).map((m) => m.field).join(", ")} differ`;
      out.push(
        `${open}>`,
        `      <${tag} message="${xml(message)}">${xml(formatFailure(c))}</${tag}>`,
        "    </testcase>",
      );
    }
    out.push("  </testsuite>");
  }
  out.push("</testsuites>");
  return `${out.join("\n")}\n`;
}
