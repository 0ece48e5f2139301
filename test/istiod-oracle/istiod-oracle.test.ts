// Differential test against istiod itself: for every scenario of cases.ts (seeded random VirtualServices,
// DestinationRules, Sidecars and Gateways over a small platform, the Bookinfo samples, and hand-written
// delegate, ServiceEntry, tcp-route and mTLS scenarios), istiod's answers
// were recorded by `npm run record:istiod` into answers/*.json. This test needs no Go: it checks that the
// answers belong to the current scenarios (a hash of each input), then compares xdskit's translator +
// simulator with them, request by request and resource name by resource name. A disagreement fails the
// test unless docs/translate.md lists it as a known difference (KNOWN_DIFFERENCES below names each one).
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { type OracleScenario, oracleScenarios, scenarioHash } from "./cases.js";
import {
  type Decision,
  deriveIstiodDecision,
  type RecordedScenario,
  readRecordedAnswers,
  simulatorVirtualHostOnIstiod,
  xdskitAnswer,
} from "./compare.js";

const here = import.meta.dirname;
const answers = readRecordedAnswers(path.join(here, "answers"));
const scenarios = oracleScenarios();
const recordedByName = new Map(answers.scenarios.map((s) => [s.name, s]));

const comparable = (d: Decision) => ({
  listener: d.listener,
  filterChain: d.filterChain,
  routeConfig: d.routeConfig,
  virtualHost: d.virtualHost,
  route: d.route,
  action: d.action,
});

/** A virtual host of a recorded istiod RouteConfiguration (proto3 JSON with proto field names). */
interface RecordedVirtualHost {
  name: string;
  domains?: string[];
}

function istiodVirtualHost(recorded: RecordedScenario, d: Decision): RecordedVirtualHost | undefined {
  const rc = d.routeConfig
    ? (recorded.routeConfigurations[d.routeConfig] as { virtual_hosts?: RecordedVirtualHost[] })
    : undefined;
  return rc?.virtual_hosts?.find((vh) => vh.name === d.virtualHost);
}

/**
 * Differences docs/translate.md lists under "Known differences from istiod". Each is a predicate over one
 * request's two decisions that holds only for that difference, so anything else still fails.
 */
const KNOWN_DECISION_DIFFERENCES: {
  reason: string;
  applies: (recorded: RecordedScenario, istiod: Decision, xdskit: Decision) => boolean;
}[] = [
  {
    // istiod merges a gateway's virtual hosts whose routes are identical into one (their domains joined,
    // the first one's name); xdskit keeps one per host. The request gets the same route and action.
    reason: "gateway virtual hosts with identical routes are merged by istiod",
    applies: (recorded, istiod, xdskit) =>
      recorded.name.includes("gateway") &&
      JSON.stringify({ ...comparable(istiod), virtualHost: "" }) ===
        JSON.stringify({ ...comparable(xdskit), virtualHost: "" }) &&
      (istiodVirtualHost(recorded, istiod)?.domains ?? []).includes((xdskit.virtualHost ?? "").replace(/:\d+$/, "")),
  },
];

/** Resource names only one side generates, for a reason docs/translate.md lists. */
const KNOWN_NAME_DIFFERENCES: {
  reason: string;
  istiodOnly: (scenario: OracleScenario, name: string) => boolean;
}[] = [
  {
    // istiod gives a sidecar clusters for the destinations of the VirtualServices it sees even when its
    // Sidecar's egress hosts do not include them; xdskit generates clusters for the egress hosts only.
    reason: "sidecar clusters for VirtualService destinations outside the Sidecar egress hosts",
    istiodOnly: (scenario, name) => {
      const host = /^outbound\|\d+\|[^|]*\|(.+)$/.exec(name)?.[1];
      return (
        scenario.proxy.type === "sidecar" &&
        scenario.istio.includes('"kind":"Sidecar"') &&
        host !== undefined &&
        scenario.istio.includes(`"destination":{"host":"${host}"`)
      );
    },
  },
];

describe("recorded istiod answers", () => {
  it("were recorded by the istio.io/istio version test/istiod-oracle/go.mod names", () => {
    const mod = fs.readFileSync(path.join(here, "go.mod"), "utf8");
    expect(mod).toContain(`istio.io/istio ${answers.istio}`);
  });

  it("belong to the current scenarios (else run `npm run record:istiod`)", () => {
    // Each group file keeps its scenarios' order; across files the order is the groups'.
    expect(answers.scenarios.map((s) => s.name).sort()).toEqual(scenarios.map((s) => s.name).sort());
    const stale = scenarios.filter((s) => recordedByName.get(s.name)?.hash !== scenarioHash(s)).map((s) => s.name);
    expect(stale, "scenarios changed since istiod answered: run `npm run record:istiod`").toEqual([]);
    expect(scenarios.reduce((n, s) => n + s.requests.length, 0)).toBeGreaterThanOrEqual(150);
  });

  it("every scenario was built by istiod", () => {
    expect(answers.scenarios.filter((s) => s.error).map((s) => `${s.name}: ${s.error}`)).toEqual([]);
  });

  it("the simulator picks istiod's virtual host in istiod's own RouteConfigurations", () => {
    let checked = 0;
    const wrong: string[] = [];
    for (const scenario of scenarios) {
      const recorded = recordedByName.get(scenario.name);
      scenario.requests.forEach((request, i) => {
        const istiod = recorded?.requests[i];
        if (!recorded || !istiod?.routeConfig || !istiod.virtualHost) return;
        checked++;
        const picked = simulatorVirtualHostOnIstiod(recorded.routeConfigurations, istiod.routeConfig, request);
        if (picked !== istiod.virtualHost)
          wrong.push(`${scenario.name}#${i}: istiod ${istiod.virtualHost}, simulator ${picked}`);
      });
    }
    expect(checked).toBeGreaterThan(100);
    expect(wrong).toEqual([]);
  });

  it("hold the routes and actions xdskit's simulator picks in istiod's recorded RouteConfigurations", () => {
    let checked = 0;
    const stale: string[] = [];
    for (const scenario of scenarios) {
      const recorded = recordedByName.get(scenario.name);
      scenario.requests.forEach((request, i) => {
        const stored = recorded?.requests[i];
        if (!recorded || !stored?.routeConfig) return;
        checked++;
        const again = deriveIstiodDecision(stored, recorded, request);
        if (JSON.stringify(again) !== JSON.stringify(stored)) stale.push(`${scenario.name}#${i}`);
      });
    }
    expect(checked).toBeGreaterThan(100);
    expect(stale, "the simulator changed: run `npm run record:istiod`").toEqual([]);
  });
});

describe("xdskit agrees with istiod", () => {
  const results = scenarios.map((scenario) => ({ scenario, xdskit: xdskitAnswer(scenario) }));

  it("routes every request where istiod does", () => {
    let agree = 0;
    let known = 0;
    const disagreements: string[] = [];
    for (const { scenario, xdskit } of results) {
      const recorded = recordedByName.get(scenario.name);
      scenario.requests.forEach((request, i) => {
        const istiod = recorded?.requests[i];
        const ours = xdskit.requests[i] as Decision;
        if (!istiod) return;
        if (JSON.stringify(comparable(istiod)) === JSON.stringify(comparable(ours))) agree++;
        else if (recorded && KNOWN_DECISION_DIFFERENCES.some((k) => k.applies(recorded, istiod, ours))) known++;
        else
          disagreements.push(
            `${scenario.name}#${i} ${request.host}${request.path} ${JSON.stringify(request.headers)}\n  istiod ${JSON.stringify(comparable(istiod))}\n  xdskit ${JSON.stringify(comparable(ours))}`,
          );
      });
    }
    const total = scenarios.reduce((n, s) => n + s.requests.length, 0);
    console.log(`istiod differential: ${agree} of ${total} requests agree, ${known} known differences`);
    expect(disagreements).toEqual([]);
    expect(agree + known).toBe(total);
  });

  it("gives the clusters requests reach istiod's upstream transport (TLS or not, SNI, SANs, ALPN, secrets)", () => {
    let checked = 0;
    const disagreements: string[] = [];
    for (const { scenario, xdskit } of results) {
      const recorded = recordedByName.get(scenario.name);
      for (const [name, theirs] of Object.entries(recorded?.transports ?? {})) {
        const ours = xdskit.transportOf(name);
        if (!ours) continue; // a missing cluster fails the resource names test
        checked++;
        if (JSON.stringify(ours) !== JSON.stringify(theirs))
          disagreements.push(
            `${scenario.name} ${name}\n  istiod ${JSON.stringify(theirs)}\n  xdskit ${JSON.stringify(ours)}`,
          );
      }
    }
    console.log(
      `istiod differential: upstream transport agrees for ${checked - disagreements.length} of ${checked} reached clusters`,
    );
    expect(checked).toBeGreaterThan(100);
    expect(disagreements).toEqual([]);
  });

  it("generates the resource names istiod generates", () => {
    let agree = 0;
    let known = 0;
    const disagreements: string[] = [];
    for (const { scenario, xdskit } of results) {
      const recorded = recordedByName.get(scenario.name);
      if (!recorded) continue;
      const problems: string[] = [];
      let explained = false;
      for (const kind of ["listeners", "routes", "clusters"] as const) {
        const theirs = new Set(recorded[kind]);
        const ours = new Set(xdskit[kind]);
        const istiodOnly = [...theirs].filter((n) => {
          if (ours.has(n)) return false;
          if (!KNOWN_NAME_DIFFERENCES.some((k) => k.istiodOnly(scenario, n))) return true;
          explained = true;
          return false;
        });
        const xdskitOnly = [...ours].filter((n) => !theirs.has(n));
        if (istiodOnly.length) problems.push(`${kind} only istiod: ${istiodOnly.join(", ")}`);
        if (xdskitOnly.length) problems.push(`${kind} only xdskit: ${xdskitOnly.join(", ")}`);
      }
      if (problems.length) disagreements.push(`${scenario.name}: ${problems.join("; ")}`);
      else if (explained) known++;
      else agree++;
    }
    console.log(
      `istiod differential: resource names agree in ${agree} of ${scenarios.length} scenarios, ${known} known differences`,
    );
    expect(disagreements).toEqual([]);
    expect(agree + known).toBe(scenarios.length);
  });
});
