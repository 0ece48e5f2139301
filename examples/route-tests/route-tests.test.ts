// The README's CI step, run in this repository's CI: every test passes and covers every route.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect, it } from "vitest";
import { type CliIo, runCli } from "xdskit";

it("xdskit test passes the example's route tests with full route coverage, and reports them as JUnit", async () => {
  const dir = path.dirname(new URL(import.meta.url).pathname);
  const junit = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "route-tests-")), "junit.xml");
  const stdout: string[] = [];
  const stderr: string[] = [];
  const io: CliIo = { stdout: (t) => void stdout.push(t), stderr: (t) => void stderr.push(t) };
  const argv = ["test", path.join(dir, "mesh"), "-t", path.join(dir, "tests"), "--fail-under", "100", "--junit", junit];
  const code = await runCli(argv, io);
  const out = stdout.join("");
  expect(code, `${out}\n${stderr.join("")}`).toBe(0);
  expect(out).toMatch(/^route coverage: 16 of 16 routes \(100\.0%\)/m);
  expect(out).toMatch(/^21 passed, 0 failed, 0 errors \(40 requests\)$/m);
  expect(fs.readFileSync(junit, "utf8")).toMatch(/<testsuites name="xdskit test" tests="21" failures="0" errors="0"/);
  fs.rmSync(path.dirname(junit), { recursive: true });
});
