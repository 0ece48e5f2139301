// `npm run record:istiod`: asks istiod itself about every scenario of cases.ts and writes its answers to
// test/istiod-oracle/answers/ (one file per group of scenarios), which istiod-oracle.test.ts compares xdskit with (no Go needed there).
// Builds the Go recording program first (build.sh, into .cache/). See docs/translate.md, "Differential
// against istiod".
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { type OracleScenario, oracleScenarios, scenarioHash } from "./cases.js";
import {
  deriveIstiodDecision,
  type IstiodScenarioAnswer,
  istiodTransports,
  type RecordedAnswers,
  type RecordedScenario,
  splitRecordedAnswers,
} from "./compare.js";

const here = import.meta.dirname;
const repo = path.resolve(here, "../..");
const work = path.join(repo, ".cache/istiod-oracle");
const binary = path.join(repo, ".cache/istiod-oracle.test");
const ANSWERS_DIR = path.join(here, "answers");

function istioVersion(): string {
  const mod = fs.readFileSync(path.join(here, "go.mod"), "utf8");
  const version = /^\s*istio\.io\/istio (\S+)/m.exec(mod)?.[1];
  if (!version) throw new Error("test/istiod-oracle/go.mod: no istio.io/istio requirement");
  return version;
}

function record(scenarios: readonly OracleScenario[]): IstiodScenarioAnswer[] {
  fs.mkdirSync(work, { recursive: true });
  const casesFile = path.join(work, "cases.json");
  const outFile = path.join(work, "answers.raw.json");
  fs.writeFileSync(casesFile, JSON.stringify(scenarios));
  fs.rmSync(outFile, { force: true });
  console.log("building the recording program (test/istiod-oracle/build.sh) ...");
  execFileSync(path.join(here, "build.sh"), { stdio: "inherit" });
  console.log(`asking istiod about ${scenarios.length} scenarios ...`);
  const log = path.join(work, "record.log");
  try {
    execFileSync(binary, ["-test.run", "^TestRecord$", "-test.v"], {
      env: { ...process.env, ISTIOD_ORACLE_CASES: casesFile, ISTIOD_ORACLE_OUT: outFile },
      stdio: ["ignore", fs.openSync(log, "w"), "inherit"],
      maxBuffer: 1 << 30,
    });
  } catch (error) {
    // Failed sub-tests (scenarios istiod's fake could not build) are recorded as errors; only a missing
    // output file is fatal.
    if (!fs.existsSync(outFile)) throw new Error(`the recording program failed, see ${log}: ${String(error)}`);
  }
  return JSON.parse(fs.readFileSync(outFile, "utf8")) as IstiodScenarioAnswer[];
}

function main() {
  const scenarios = oracleScenarios();
  const raw = record(scenarios);
  const recorded: RecordedScenario[] = scenarios.map((scenario, i) => {
    const answer = raw[i];
    if (!answer || answer.name !== scenario.name) throw new Error(`answer ${i} is not for ${scenario.name}`);
    const routeConfigurations = answer.routeConfigurations ?? {};
    const clusters = answer.clusters ?? [];
    const requests = (answer.requests ?? []).map((a, j) =>
      deriveIstiodDecision(
        a,
        { routeConfigurations, clusters },
        scenario.requests[j] as OracleScenario["requests"][number],
      ),
    );
    return {
      name: scenario.name,
      hash: scenarioHash(scenario),
      ...(answer.error ? { error: answer.error } : {}),
      listeners: answer.listeners ?? [],
      routes: answer.routes ?? [],
      clusters,
      requests,
      routeConfigurations,
      transports: istiodTransports(answer.clusterTransports ?? {}, requests),
    };
  });
  const out: RecordedAnswers = { istio: istioVersion(), scenarios: recorded };
  fs.mkdirSync(ANSWERS_DIR, { recursive: true });
  const files: string[] = [];
  for (const [group, part] of splitRecordedAnswers(out)) {
    const file = path.join(ANSWERS_DIR, `${group}.json`);
    fs.writeFileSync(file, JSON.stringify(part));
    files.push(file);
  }
  // Formatted as the repository's formatter keeps JSON, so `npm run lint` passes after a re-recording.
  execFileSync("npx", ["biome", "format", "--write", ...files], { cwd: repo, stdio: "inherit" });
  const failed = recorded.filter((s) => s.error).length;
  console.log(
    `wrote ${path.relative(repo, ANSWERS_DIR)}/*.json: ${recorded.length} scenarios (${failed} failed in istiod)`,
  );
}

main();
