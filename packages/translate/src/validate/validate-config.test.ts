import { describe, expect, it } from "vitest";
import { loadConfig } from "../config/loader.js";
import { CRD_SCHEMA_ERROR, validateConfig } from "./validate-config.js";

/**
 * Loads one YAML object (must decode cleanly) and returns its semantic diagnostics as [severity, path, message],
 * without the schema layer and the unreachable-rule warnings (tested on their own).
 */
function check(yaml: string): Array<[string, string, string]> {
  const { objects, diagnostics } = loadConfig({ file: "t.yaml", text: yaml });
  expect(diagnostics).toEqual([]);
  expect(objects).toHaveLength(1);
  return validateConfig(objects)
    .filter((d) => d.code !== CRD_SCHEMA_ERROR && d.code !== "IST0130" && d.code !== "IST0131")
    .map((d) => [d.severity, d.path, d.message]);
}

const vs = (spec: string, ns = "default") =>
  `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: { name: r, namespace: ${ns} }\nspec:\n${spec}`;
const dr = (spec: string) =>
  `apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: { name: d }\nspec:\n${spec}`;
const gw = (spec: string, name = "gw") =>
  `apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: { name: ${name} }\nspec:\n${spec}`;
const se = (spec: string) =>
  `apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: { name: s }\nspec:\n${spec}`;

describe("validateConfig: VirtualService", () => {
  it("accepts a plain route", () => {
    expect(
      check(vs("  hosts: [reviews]\n  http:\n  - route: [{ destination: { host: reviews, subset: v1 } }]")),
    ).toEqual([]);
  });

  it("refuses * on the mesh, route + redirect, zero total weight and an empty fault, with Istio's messages", () => {
    const out = check(
      vs(
        [
          "  hosts: ['*']",
          "  http:",
          "  - route: [{ destination: { host: a } }]",
          "    redirect: { uri: /x }",
          "  - route: [{ destination: { host: a }, weight: 0 }, { destination: { host: b }, weight: 0 }]",
          "  - fault: {}",
          "    route: [{ destination: { host: a } }]",
        ].join("\n"),
      ),
    );
    expect(out).toEqual([
      ["error", "spec.hosts[0]", "wildcard host * is not allowed for virtual services bound to the mesh gateway"],
      ["error", "spec.http[0]", "HTTP route cannot contain both route and redirect"],
      ["error", "spec.http[1].route", "total destination weight = 0"],
      ["error", "spec.http[2].fault", "HTTP fault injection must have an abort and/or a delay"],
    ]);
  });

  it("allows * on a gateway, and checks regexes, durations, retries, statuses and duplicate hosts", () => {
    const out = check(
      vs(
        [
          "  hosts: ['*', a.example.com, '*.example.com']",
          "  gateways: [istio-system/ingress]",
          "  http:",
          "  - match: [{ uri: { regex: '(?=x)' } }, { headers: { 'bad header': { exact: x } } }]",
          "    timeout: 0.5ms",
          "    retries: { attempts: 0, retryOn: '5xx,bogus' }",
          "    route: [{ destination: { host: a, subset: V_1 } }]",
          "  - directResponse: { status: 700 }",
          "  - redirect: { redirectCode: 200, uri: /x }",
        ].join("\n"),
      ),
    );
    expect(out).toEqual([
      ["error", "spec.hosts[1]", "duplicate hosts in virtual service: * & a.example.com"],
      ["error", "spec.hosts[2]", "duplicate hosts in virtual service: * & *.example.com"],
      ["error", "spec.hosts[2]", "duplicate hosts in virtual service: a.example.com & *.example.com"],
      [
        "error",
        "spec.http[0].match[0].uri",
        '"uri": error parsing regexp: invalid or unsupported Perl syntax: `(?=`; Istio uses RE2 style regex-based match (https://github.com/google/re2/wiki/Syntax)',
      ],
      ["error", "spec.http[0].match[1].headers.bad header", "header name bad header is not a valid header name"],
      ["error", "spec.http[0].retries", "http retry policy configured when attempts are set to 0 (disabled)"],
      ["error", "spec.http[0].retries.retryOn", '"bogus" is not a valid retryOn policy'],
      ["error", "spec.http[0].route[0].destination.subset", "subset name is invalid: V_1"],
      ["error", "spec.http[0].timeout", "duration must be greater than 1ms"],
      ["error", "spec.http[1].directResponse.status", "HTTP status 700 is not in range 200-599"],
      ["error", "spec.http[2].redirect", "200 is not a valid redirect code, must be 3xx"],
    ]);
  });

  it("refuses a redirect that sets only redirectCode, as istiod does; any one target field (derivePort too) is enough", () => {
    expect(check(vs("  hosts: [reviews]\n  http:\n  - redirect: { redirectCode: 301 }"))).toEqual([
      ["error", "spec.http[0].redirect", "redirect must specify URI, authority, scheme, or port"],
    ]);
    for (const target of [
      "uri: /x",
      "authority: a.example.com",
      "scheme: https",
      "port: 8443",
      "derivePort: FROM_REQUEST_PORT",
    ])
      expect(check(vs(`  hosts: [reviews]\n  http:\n  - redirect: { redirectCode: 301, ${target} }`)), target).toEqual(
        [],
      );
  });

  it("checks delegates, TLS SNI hosts and gateway names", () => {
    expect(check(vs("  gateways: [gw]\n  tcp: [{ route: [{ destination: { host: a } }] }]"))).toEqual([
      ["error", "spec.gateways", "delegate virtual service must have no gateways specified"],
      ["error", "spec.tcp", "delegate virtual service must have no tcp route specified"],
    ]);
    expect(
      check(
        vs(
          "  hosts: [a.example.com]\n  gateways: [Bad_NS/gw]\n  tls:\n  - match: [{ sniHosts: [b.example.com] }]\n    route: [{ destination: { host: a } }]",
        ),
      ),
    ).toEqual([
      ["error", "spec.gateways[0]", 'invalid value for namespace: "Bad_NS"'],
      [
        "error",
        "spec.tls[0].match[0].sniHosts[0]",
        'SNI host "b.example.com" is not a compatible subset of any of the virtual service hosts: [a.example.com]',
      ],
    ]);
  });
});

describe("validateConfig: unreachable VirtualService rules (IST0130, IST0131)", () => {
  it("warns about rules after a catch-all, repeated matches and prefixes covered by an earlier prefix", () => {
    const { objects } = loadConfig(
      vs(
        [
          "  hosts: [a]",
          "  http:",
          "  - name: api",
          "    match: [{ uri: { prefix: /api } }, { name: h, headers: { x: { exact: '1' } } }]",
          "    route: [{ destination: { host: a } }]",
          "  - match: [{ uri: { prefix: /api/v1 } }, { headers: { x: { exact: '1' } } }]",
          "    route: [{ destination: { host: a } }]",
          "  - match: [{ name: again, headers: { x: { exact: '1' } } }]",
          "    route: [{ destination: { host: a } }]",
          "  - route: [{ destination: { host: a } }]",
          "  - route: [{ destination: { host: a } }]",
        ].join("\n"),
      ),
    );
    const out = validateConfig(objects).map((d) => [d.code, d.path, d.message]);
    expect(out).toEqual([
      [
        "IST0131",
        "spec.http[1].match[1]",
        'VirtualService rule #1 match #1 is not used (duplicate/overlapping match in rule "api").',
      ],
      [
        "IST0131",
        "spec.http[2].match[0]",
        'VirtualService rule #2 match "again" is not used (duplicate/overlapping match in rule "api").',
      ],
      ["IST0130", "spec.http[2]", "VirtualService rule #2 not used (all matches used by prior rules)."],
      ["IST0130", "spec.http[4]", "VirtualService rule #4 not used (only the last rule can have no matches)."],
      [
        "IST0131",
        "spec.http[1].match[0]",
        'VirtualService rule #1 match #0 of prefix /api/v1 is not used (duplicate/overlapping match in rule #0 of prefix /api on "api").',
      ],
    ]);
    expect(validateConfig(objects).every((d) => d.severity === "warning")).toBe(true);
  });
});

describe("validateConfig: other kinds", () => {
  it("DestinationRule: duplicate subsets, empty traffic policy, maglev size, mutual TLS without certificates", () => {
    const out = check(
      dr(
        [
          "  host: reviews",
          "  trafficPolicy: { loadBalancer: { consistentHash: { maglev: { tableSize: 100 } } }, tls: { mode: MUTUAL } }",
          "  subsets:",
          "  - { name: v1, labels: { version: v1 } }",
          "  - { name: v1, labels: { version: v2 }, trafficPolicy: {} }",
        ].join("\n"),
      ),
    );
    expect(out).toEqual([
      [
        "error",
        "spec.trafficPolicy.loadBalancer.consistentHash.maglev.tableSize",
        "tableSize must be a prime number for maglev",
      ],
      ["error", "spec.trafficPolicy.tls", "client certificate required for mutual tls"],
      ["error", "spec.trafficPolicy.tls", "private key required for mutual tls"],
      ["error", "spec.subsets[1].name", "duplicate subset names: v1"],
      ["error", "spec.subsets[1].trafficPolicy", "traffic policy must have at least one field"],
    ]);
  });

  it("Gateway: HTTPS without TLS settings, duplicate port names, short host names", () => {
    const out = check(
      gw(
        [
          "  servers:",
          "  - { port: { number: 443, name: https, protocol: HTTPS }, hosts: [example.com] }",
          "  - { port: { number: 80, name: https, protocol: HTTP }, hosts: [shortname] }",
          "  - { port: { number: 8443, name: tls, protocol: HTTPS }, hosts: ['*'], tls: { mode: SIMPLE } }",
        ].join("\n"),
      ),
    );
    expect(out).toEqual([
      ["error", "spec.servers[0]", "server must have TLS settings for HTTPS/TLS protocols"],
      ["error", "spec.servers[1].hosts[0]", "short names (non FQDN) are not allowed"],
      ["error", "spec.servers[2].tls", "SIMPLE TLS requires a server certificate"],
      ["error", "spec.servers[2].tls", "SIMPLE TLS requires a private key"],
      ["error", "spec.servers[1].port.name", "port names in servers must be unique: duplicate name https"],
    ]);
    expect(check(gw("  servers: []", "bad.name"))).toEqual([
      ["error", "metadata.name", 'invalid gateway name: "bad.name"'],
      ["error", "spec.servers", "gateway must have at least one server"],
    ]);
  });

  it("ServiceEntry: wildcard host, CIDR with DNS, duplicate ports, endpoints with NONE", () => {
    const out = check(
      se(
        [
          "  hosts: ['*', a.example.com]",
          "  addresses: [10.0.0.0/8]",
          "  resolution: DNS",
          "  ports: [{ number: 80, name: http, protocol: HTTP }, { number: 80, name: http, protocol: HTTP }]",
        ].join("\n"),
      ),
    );
    expect(out).toEqual([
      ["error", "spec.hosts[0]", "invalid host *"],
      ["error", "spec.addresses", "CIDR addresses are allowed only for NONE/STATIC resolution types"],
      ["error", "spec.ports[1].name", 'service entry port name "http" already defined'],
      ["error", "spec.ports[1].number", "service entry port 80 already defined"],
      [
        "error",
        "spec.hosts[0]",
        'hosts must be FQDN or contain only prefix wildcards if no endpoints are provided for resolution mode DNS, domain name "*" invalid (label "*" invalid)',
      ],
    ]);
    expect(check(se("  hosts: [a.example.com]\n  addresses: [1.1.1.1]\n  endpoints: [{ address: 2.2.2.2 }]"))).toEqual([
      ["error", "spec.endpoints", "no endpoints should be provided for resolution type none"],
    ]);
    expect(
      check(
        se(
          "  hosts: ['*.example.com', b.example.com]\n  resolution: DYNAMIC_DNS\n  ports: [{ number: 80, name: tcp, protocol: TCP }]",
        ),
      ),
    ).toEqual([
      [
        "warning",
        "spec.ports[0]",
        "addresses are required for ports serving TCP (or unset) protocol when IP Autoallocation is not enabled",
      ],
      ["error", "spec.hosts[1]", "host must be wildcarded for resolution mode DYNAMIC_DNS"],
      [
        "error",
        "spec.ports[0].protocol",
        "only HTTP, TLS, GRPC, and HTTP2 protocols are supported for resolution type DYNAMIC_DNS",
      ],
      ["error", "spec.ports", "multiple hosts provided with non-HTTP, non-TLS ports"],
    ]);
  });

  it("Sidecar, WorkloadEntry and PeerAuthentication", () => {
    expect(
      check(
        "apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: { name: s }\nspec:\n  egress:\n  - hosts: [reviews]\n  - hosts: ['./*']",
      ),
    ).toEqual([
      [
        "error",
        "spec.egress[0]",
        "sidecar: the egress listener with empty port should be the last listener in the list",
      ],
      ["error", "spec.egress[0].hosts[0]", "host must be of form namespace/dnsName"],
    ]);
    expect(
      check(
        "apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: { name: w }\nspec: { ports: { http: 80 } }",
      ),
    ).toEqual([["error", "spec.address", "address is required"]]);
    const wg = (spec: string) =>
      check(`apiVersion: networking.istio.io/v1\nkind: WorkloadGroup\nmetadata: { name: g }\nspec:\n${spec}`);
    // The template needs no address (a registering workload brings it).
    expect(wg("  template: { ports: { http: 80 } }")).toEqual([]);
    expect(wg("  metadata: { labels: { app: a } }")).toEqual([["error", "spec.template", "template is required"]]);
    expect(
      wg(
        "  template: {}\n  probe:\n    periodSeconds: -1\n    httpGet: { port: 0, scheme: FTP, httpHeaders: [{ name: 'x y', value: v }] }",
      ),
    ).toEqual([
      ["error", "spec.probe.periodSeconds", "periodSeconds must be non-negative"],
      ["error", "spec.probe.httpGet.port", "port number 0 must be in the range 1..65535"],
      ["error", "spec.probe.httpGet.scheme", 'httpGet.scheme must be one of "HTTPS", "HTTP"'],
      ["error", "spec.probe.httpGet.httpHeaders[0].name", "header name x y is not a valid header name"],
    ]);
    expect(wg("  template: {}\n  probe: { exec: { command: [] } }")).toEqual([
      ["error", "spec.probe.exec.command", "exec.command is required"],
    ]);
    expect(wg("  template: {}\n  probe: { tcpSocket: { port: 8080 } }")).toEqual([]);
    expect(
      check(
        "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: { name: p }\nspec: { mtls: { mode: STRICT }, portLevelMtls: { 8080: { mode: DISABLE } } }",
      ),
    ).toEqual([["error", "spec.portLevelMtls", "mesh/namespace peer authentication cannot have port level mTLS"]]);
  });

  it("names file and line of the field, and IST codes", () => {
    const { objects } = loadConfig({
      file: "vs.yaml",
      text: vs("  hosts: [a]\n  http:\n  - fault: {}\n    route: [{ destination: { host: a } }]"),
    });
    const [d] = validateConfig(objects);
    expect(d).toMatchObject({
      code: "IST0106",
      kind: "VirtualService",
      namespace: "default",
      name: "r",
      file: "vs.yaml",
      line: 7,
    });
  });

  it("validates objects built in code, whose unset fields are absent", () => {
    const out = validateConfig([
      {
        apiVersion: "networking.istio.io/v1",
        kind: "VirtualService",
        metadata: { name: "x", namespace: "default", labels: {}, annotations: {} },
        spec: { hosts: ["*"] },
      },
    ]);
    expect(out.map((d) => d.message)).toEqual([
      "wildcard host * is not allowed for virtual services bound to the mesh gateway",
      "http, tcp or tls must be provided in virtual service",
    ]);
    expect(() => validateConfig("nope" as never)).toThrow(/must be an array/);
  });

  it("AuthorizationPolicy and RequestAuthentication", () => {
    const ap = (spec: string) =>
      check(
        `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: { name: p, namespace: shop }\nspec:\n${spec}`,
      );
    expect(ap("  action: DENY")).toEqual([
      [
        "error",
        "spec.rules",
        "invalid policy p.shop: DENY action without `rules` is meaningless as it will never be triggered, add an empty rule `{}` if you want it be triggered for every request",
      ],
    ]);
    expect(
      ap(
        [
          "  action: DENY",
          "  rules:",
          "  - from: [{ source: { principals: [a], serviceAccounts: [b] } }]",
          "    to: [{ operation: { ports: ['99999'], methods: [GET] } }]",
          "    when: [{ key: request.auth.claims, values: [x] }, { key: 'destination.labels[app]', values: [y] }]",
          "  - to: [{ operation: { methods: [GET] } }]",
        ].join("\n"),
      ),
    ).toEqual([
      [
        "error",
        "spec.rules[0].from[0].source",
        "invalid policy p.shop: cannot set serviceAccounts with namespaces or principals, found at rule 0",
      ],
      ["error", "spec.rules[0].to[0].operation.ports", "invalid policy p.shop: bad port (99999): <nil>"],
      [
        "error",
        "spec.rules[0].when[0]",
        "invalid policy p.shop: invalid `value` for `key` request.auth.claims: bad key (request.auth.claims): should have format a[b]",
      ],
      [
        "error",
        "spec.rules[0].when[1]",
        "invalid policy p.shop: invalid `value` for `key` destination.labels[app]: attribute destination.labels[app] is replaced by the workload selector",
      ],
      [
        "warning",
        "spec.rules[1]",
        "configured AuthorizationPolicy will deny all traffic to TCP ports under its scope due to the use of only HTTP attributes in a DENY rule; it is recommended to explicitly specify the port",
      ],
    ]);
    expect(
      check(
        "apiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: { name: r }\nspec:\n  selector: { matchLabels: { app: a } }\n  targetRefs: [{ kind: Service, name: a }]\n  jwtRules: [{ audiences: [''], fromParams: [''] }]",
      ),
    ).toEqual([
      ["error", "spec", "only one of targetRefs or workloadSelector can be set"],
      ["error", "spec.jwtRules[0].audiences", "audience must be non-empty string"],
      ["error", "spec.jwtRules[0]", "issuer or jwksUri must be non-empty string"],
      ["error", "spec.jwtRules[0].fromParams[0]", "location query must be non-empty string"],
    ]);
  });
});
