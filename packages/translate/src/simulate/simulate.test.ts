import {
  binaryFromProtoJson,
  createSnapshot,
  HttpConnectionManager,
  type Listener,
  messageToJson,
  packAny,
  type RouteConfiguration,
  resourceToJson,
  resourceTypes,
  XdsKitError,
} from "@xdskit/core";
import { describe, expect, it } from "vitest";
import type { RouteConfig } from "./matchers.js";
import { resourcesFromConfigDump, type SimulationResources } from "./resources.js";
import { explain, simulate } from "./simulate.js";

const HCM = "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";

function httpListener(
  name: string,
  port: number,
  routeName: string,
  extra: Partial<HttpConnectionManager> = {},
): Listener {
  const hcm = HttpConnectionManager.fromPartial({
    statPrefix: name,
    rds: { routeConfigName: routeName, configSource: { ads: {} } },
    httpFilters: [{ name: "envoy.filters.http.router" }],
    ...extra,
  });
  return {
    name,
    address: { socketAddress: { address: "0.0.0.0", portValue: port } },
    filterChains: [
      {
        filters: [
          {
            name: "envoy.filters.network.http_connection_manager",
            typedConfig: packAny(HCM, HttpConnectionManager, hcm),
          },
        ],
      },
    ],
  };
}

const vhost = (
  name: string,
  domains: string[],
  routes: RouteConfig[] = [{ match: { prefix: "/" }, route: { cluster: name } }],
) => ({
  name,
  domains,
  routes,
});

const hostsConfig: RouteConfiguration = {
  name: "hosts",
  virtualHosts: [
    vhost("exact", ["api.example.com", "api.example.com:8080"]),
    vhost("suffix-long", ["*-bar.example.com"]),
    vhost("suffix", ["*.example.com"]),
    vhost("prefix", ["api.*"]),
    vhost("prefix-short", ["a*"]),
    vhost("default", ["*"]),
  ],
};

const at = (authority: string, extra: Record<string, unknown> = {}) => ({
  routeConfiguration: "hosts",
  authority,
  ...extra,
});

describe("virtual host selection", () => {
  const resources: SimulationResources = { routes: [hostsConfig] };
  it.each([
    ["api.example.com", "exact"],
    ["API.Example.COM", "exact"],
    ["api.example.com:8080", "exact"],
    ["foo-bar.example.com", "suffix-long"],
    ["x.example.com", "suffix"],
    ["-bar.example.com", "suffix"],
    [".example.com", "default"],
    ["api.other.org", "prefix"],
    ["api.", "prefix-short"],
    ["ab", "prefix-short"],
    ["a", "default"],
    ["other.org", "default"],
    ["x.example.com:80", "default"],
  ])("%s → %s", (authority, expected) => {
    expect(simulate(resources, at(authority)).virtualHost?.name).toBe(expected);
  });

  it("ignore_port_in_host_matching drops the port before matching", () => {
    const config = { ...hostsConfig, ignorePortInHostMatching: true };
    expect(simulate({ routes: [config] }, at("x.example.com:80")).virtualHost?.name).toBe("suffix");
    expect(simulate({ routes: [config] }, at("[::1]:80")).virtualHost?.name).toBe("default");
  });

  it("with only '*' any host (even none) reaches it; with no match and no '*' Envoy answers 404", () => {
    const only = { name: "only", virtualHosts: [vhost("all", ["*"])] };
    expect(simulate({ routes: [only] }, { authority: "" }).virtualHost?.name).toBe("all");
    const none = { name: "none", virtualHosts: [vhost("a", ["a.com"])] };
    expect(simulate({ routes: [none] }, { authority: "b.com" }).action).toEqual({
      kind: "local-reply",
      status: 404,
      reason: 'no virtual host for "b.com"',
    });
  });
});

const routesOf = (routes: RouteConfig[], extra: Partial<RouteConfiguration> = {}): SimulationResources => ({
  routes: [{ name: "r", virtualHosts: [{ name: "all", domains: ["*"], routes }], ...extra }],
});

describe("route matching", () => {
  const clusterOf = (routes: RouteConfig[], request: Record<string, unknown>) => {
    const result = simulate(routesOf(routes), { authority: "x", ...request });
    return result.action.kind === "cluster" ? result.action.cluster : result.action.kind;
  };

  it("takes the first route that matches, in order", () => {
    const routes: RouteConfig[] = [
      { name: "a", match: { prefix: "/a" }, route: { cluster: "a" } },
      { name: "ab", match: { prefix: "/ab" }, route: { cluster: "ab" } },
      { name: "all", match: { prefix: "/" }, route: { cluster: "all" } },
    ];
    const result = simulate(routesOf(routes), { path: "/abc" });
    expect(result.route).toMatchObject({ name: "a", index: 0 });
    expect(clusterOf(routes, { path: "/b" })).toBe("all");
  });

  it("path kinds: prefix, exact path, regex, path-separated prefix; the query never takes part", () => {
    const routes: RouteConfig[] = [
      { match: { path: "/exact" }, route: { cluster: "path" } },
      { match: { safeRegex: { regex: "/re/[0-9]+" } }, route: { cluster: "regex" } },
      { match: { pathSeparatedPrefix: "/sep" }, route: { cluster: "sep" } },
      { match: { prefix: "/CI", caseSensitive: false }, route: { cluster: "ci" } },
    ];
    expect(clusterOf(routes, { path: "/exact?x=1" })).toBe("path");
    expect(clusterOf(routes, { path: "/exact/" })).toBe("local-reply");
    expect(clusterOf(routes, { path: "/re/42?q=a" })).toBe("regex");
    expect(clusterOf(routes, { path: "/re/4a" })).toBe("local-reply");
    expect(clusterOf(routes, { path: "/sep" })).toBe("sep");
    expect(clusterOf(routes, { path: "/sep/x" })).toBe("sep");
    expect(clusterOf(routes, { path: "/sepx" })).toBe("local-reply");
    expect(clusterOf(routes, { path: "/ci/x" })).toBe("ci");
    expect(clusterOf(routes, { path: "/Ci" })).toBe("ci");
  });

  it("path_match_policy with the uri_template matcher", () => {
    const template = (t: string) => ({
      name: "envoy.path.match.uri_template.uri_template_matcher",
      typedConfig: {
        typeUrl: "type.googleapis.com/envoy.extensions.path.match.uri_template.v3.UriTemplateMatchConfig",
        value: Uint8Array.from([0x0a, t.length, ...Buffer.from(t)]),
      },
    });
    const routes: RouteConfig[] = [
      { match: { pathMatchPolicy: template("/api/{version}/items") }, route: { cluster: "items" } },
      { match: { pathMatchPolicy: template("/shop/**") }, route: { cluster: "shop" } },
    ];
    expect(clusterOf(routes, { path: "/api/v1/items?x=1" })).toBe("items");
    expect(clusterOf(routes, { path: "/api/v1/v2/items" })).toBe("local-reply");
    expect(clusterOf(routes, { path: "/shop/a/b" })).toBe("shop");
  });

  it("case_sensitive applies to prefix and path, not to regex", () => {
    const routes: RouteConfig[] = [
      { match: { safeRegex: { regex: "/abc" }, caseSensitive: false }, route: { cluster: "regex" } },
      { match: { path: "/abc", caseSensitive: false }, route: { cluster: "path" } },
    ];
    expect(clusterOf(routes, { path: "/ABC" })).toBe("path");
  });

  it("header matchers: every kind, invert, presence, absent headers, headers sent several times", () => {
    const route = (cluster: string, header: object): RouteConfig => ({
      match: { prefix: "/", headers: [{ name: "x-h", ...header }] },
      route: { cluster },
    });
    const check = (header: object, value: string | string[] | undefined) =>
      clusterOf([route("yes", header)], value === undefined ? {} : { headers: { "X-H": value } }) === "yes";
    expect(check({ stringMatch: { exact: "a" } }, "a")).toBe(true);
    expect(check({ stringMatch: { exact: "a" } }, "A")).toBe(false);
    expect(check({ stringMatch: { exact: "a", ignoreCase: true } }, "A")).toBe(true);
    expect(check({ stringMatch: { prefix: "ab" } }, "abc")).toBe(true);
    expect(check({ stringMatch: { suffix: "bc" } }, "abc")).toBe(true);
    expect(check({ stringMatch: { contains: "b" } }, "abc")).toBe(true);
    expect(check({ stringMatch: { safeRegex: { regex: "a.c" } } }, "abc")).toBe(true);
    expect(check({ stringMatch: { safeRegex: { regex: "a" } } }, "abc")).toBe(false);
    expect(check({ exactMatch: "a" }, "a")).toBe(true);
    expect(check({ prefixMatch: "a" }, "ab")).toBe(true);
    expect(check({ rangeMatch: { start: 10, end: 20 } }, "15")).toBe(true);
    expect(check({ rangeMatch: { start: 10, end: 20 } }, "20")).toBe(false);
    expect(check({ rangeMatch: { start: 10, end: 20 } }, "1x")).toBe(false);
    expect(check({ presentMatch: true }, "")).toBe(true);
    expect(check({ presentMatch: true }, undefined)).toBe(false);
    expect(check({ presentMatch: false }, undefined)).toBe(true);
    expect(check({}, "anything")).toBe(true);
    expect(check({}, undefined)).toBe(false);
    expect(check({ stringMatch: { exact: "a" }, invertMatch: true }, "b")).toBe(true);
    expect(check({ stringMatch: { exact: "a" }, invertMatch: true }, undefined)).toBe(false);
    expect(check({ presentMatch: true, invertMatch: true }, undefined)).toBe(true);
    expect(check({ stringMatch: { exact: "" }, treatMissingHeaderAsEmpty: true }, undefined)).toBe(true);
    // A header sent twice: any one value may satisfy the matcher (values are not joined); invert negates that.
    expect(check({ stringMatch: { exact: "b" } }, ["a", "b"])).toBe(true);
    expect(check({ stringMatch: { exact: "a,b" } }, ["a", "b"])).toBe(false);
    expect(check({ rangeMatch: { start: 0, end: 9 }, invertMatch: true }, ["x", "5"])).toBe(false);
    expect(check({ stringMatch: { exact: "a" }, invertMatch: true }, ["a", "b"])).toBe(false);
  });

  it("pseudo-headers and Host can be matched", () => {
    const routes: RouteConfig[] = [
      {
        match: { prefix: "/", headers: [{ name: ":method", stringMatch: { exact: "POST" } }] },
        route: { cluster: "post" },
      },
      { match: { prefix: "/", headers: [{ name: "host", stringMatch: { exact: "x" } }] }, route: { cluster: "host" } },
    ];
    expect(clusterOf(routes, { method: "POST" })).toBe("post");
    expect(clusterOf(routes, {})).toBe("host");
  });

  it("query parameters: first value, presence, string matchers", () => {
    const routes: RouteConfig[] = [
      {
        match: { prefix: "/", queryParameters: [{ name: "v", stringMatch: { exact: "2" } }] },
        route: { cluster: "v2" },
      },
      { match: { prefix: "/", queryParameters: [{ name: "debug", presentMatch: true }] }, route: { cluster: "debug" } },
      { match: { prefix: "/" }, route: { cluster: "other" } },
    ];
    expect(clusterOf(routes, { path: "/p?v=2" })).toBe("v2");
    expect(clusterOf(routes, { path: "/p?v=1&v=2" })).toBe("other");
    expect(clusterOf(routes, { path: "/p?a=1&debug" })).toBe("debug");
    expect(clusterOf(routes, { path: "/p" })).toBe("other");
  });

  it("runtime_fraction: 0 % never, 100 % always, in between decided by randomValue or reported uncertain", () => {
    const routes = (numerator: number): RouteConfig[] => [
      {
        match: { prefix: "/", runtimeFraction: { defaultValue: { numerator, denominator: 0 }, runtimeKey: "k" } },
        route: { cluster: "f" },
      },
      { match: { prefix: "/" }, route: { cluster: "rest" } },
    ];
    expect(clusterOf(routes(0), {})).toBe("rest");
    expect(clusterOf(routes(100), {})).toBe("f");
    expect(clusterOf(routes(30), { randomValue: 129 })).toBe("f");
    expect(clusterOf(routes(30), { randomValue: 130 })).toBe("rest");
    const uncertain = simulate(routesOf(routes(30)), {});
    expect(uncertain.warnings.join()).toContain("fraction");
  });
});

describe("actions", () => {
  const actionOf = (route: Partial<RouteConfig>, request: Record<string, unknown> = {}, extra = {}) =>
    simulate(routesOf([{ match: { prefix: "/old" }, ...route }], extra), {
      authority: "shop.example.com",
      path: "/old/item?id=1",
      ...request,
    }).action;

  it("weighted clusters report every weight; a single non-zero weight or randomValue picks one", () => {
    const weightedClusters = {
      clusters: [
        { name: "v1", weight: 80 },
        { name: "v2", weight: 20 },
      ],
    };
    expect(actionOf({ route: { weightedClusters } })).toMatchObject({
      kind: "cluster",
      cluster: undefined,
      weightedClusters: [
        { name: "v1", weight: 80 },
        { name: "v2", weight: 20 },
      ],
    });
    expect(actionOf({ route: { weightedClusters } }, { randomValue: 179 })).toMatchObject({ cluster: "v1" });
    expect(actionOf({ route: { weightedClusters } }, { randomValue: 180 })).toMatchObject({ cluster: "v2" });
    const zero = {
      clusters: [
        { name: "v1", weight: 0 },
        { name: "v2", weight: 100 },
      ],
    };
    expect(actionOf({ route: { weightedClusters: zero } })).toMatchObject({ cluster: "v2" });
  });

  it("rewrites: prefix (query kept), regex (query kept), host literal; default timeout 15 s", () => {
    expect(actionOf({ route: { cluster: "c", prefixRewrite: "/new" } })).toMatchObject({
      path: "/new/item?id=1",
      timeoutMs: 15000,
    });
    expect(
      actionOf({
        route: { cluster: "c", regexRewrite: { pattern: { regex: "^/old/(.*)$" }, substitution: "/v2/\\1" } },
      }),
    ).toMatchObject({ path: "/v2/item?id=1" });
    expect(
      actionOf({ route: { cluster: "c", hostRewriteLiteral: "backend", timeout: { seconds: 2, nanos: 500_000_000 } } }),
    ).toMatchObject({ host: "backend", timeoutMs: 2500 });
  });

  it("redirects build Envoy's Location", () => {
    expect(actionOf({ redirect: { httpsRedirect: true } })).toEqual({
      kind: "redirect",
      status: 301,
      location: "https://shop.example.com/old/item?id=1",
    });
    expect(actionOf({ redirect: { httpsRedirect: true } }, { authority: "shop:80" })).toMatchObject({
      location: "https://shop/old/item?id=1",
    });
    expect(actionOf({ redirect: { portRedirect: 8443 } }, { authority: "shop:80" })).toMatchObject({
      location: "http://shop:8443/old/item?id=1",
    });
    expect(actionOf({ redirect: { hostRedirect: "new.example.com", pathRedirect: "/n", responseCode: 1 } })).toEqual({
      kind: "redirect",
      status: 302,
      location: "http://new.example.com/n?id=1",
    });
    expect(actionOf({ redirect: { pathRedirect: "/n?x=y", stripQuery: true } })).toMatchObject({
      location: "http://shop.example.com/n?x=y",
    });
    expect(actionOf({ redirect: { prefixRewrite: "/new", stripQuery: true, responseCode: 4 } })).toEqual({
      kind: "redirect",
      status: 308,
      location: "http://shop.example.com/new/item",
    });
    expect(
      actionOf({
        redirect: {
          regexRewrite: { pattern: { regex: "/old/(.*)" }, substitution: "/\\1/x" },
          schemeRedirect: "https",
        },
      }),
    ).toMatchObject({ location: "https://shop.example.com/item/x?id=1" });
  });

  it("direct responses carry status and body", () => {
    expect(actionOf({ directResponse: { status: 418, body: { inlineString: "teapot" } } })).toEqual({
      kind: "direct-response",
      status: 418,
      body: "teapot",
    });
  });

  it("retry policy, mirrors and CORS fall back from route to virtual host; fault comes from typed_per_filter_config", () => {
    const fault = {
      typeUrl: "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault",
      value: binaryFromProtoJson("envoy.extensions.filters.http.fault.v3.HTTPFault", {
        abort: { httpStatus: 500, percentage: { numerator: 100 } },
      }),
    };
    const result = simulate(
      {
        routes: [
          {
            name: "r",
            virtualHosts: [
              {
                name: "v",
                domains: ["*"],
                retryPolicy: { retryOn: "5xx", numRetries: 3, perTryTimeout: { seconds: 0, nanos: 500_000_000 } },
                cors: { allowMethods: "GET" },
                routes: [
                  {
                    match: { prefix: "/" },
                    typedPerFilterConfig: { "envoy.filters.http.fault": fault },
                    route: { cluster: "c", requestMirrorPolicies: [{ cluster: "shadow" }] },
                  },
                ],
              },
            ],
          },
        ],
      },
      {},
    );
    expect(result.action).toMatchObject({
      kind: "cluster",
      retryPolicy: { retryOn: "5xx", numRetries: 3, perTryTimeout: "0.500s" },
      mirrors: [{ cluster: "shadow" }],
      cors: { allowMethods: "GET" },
      fault: { abort: { httpStatus: 500, percentage: { numerator: 100 } } },
    });
  });

  it("a cluster missing from the resources answers 503 (cluster_not_found_response_code)", () => {
    const resources = {
      ...routesOf([{ match: { prefix: "/" }, route: { cluster: "gone" } }]),
      clusters: [{ name: "other" }],
    };
    expect(simulate(resources, {}).action).toMatchObject({ kind: "local-reply", status: 503 });
  });

  it("a path with a fragment is refused with 400 before routing", () => {
    expect(simulate(routesOf([{ match: { prefix: "/" }, route: { cluster: "c" } }]), { path: "/a#b" }).action).toEqual({
      kind: "local-reply",
      status: 400,
      reason: "path with a fragment",
    });
  });

  it("require_tls ALL redirects plain HTTP to https", () => {
    const resources = { routes: [{ name: "r", virtualHosts: [{ ...vhost("v", ["*"]), requireTls: 2 }] }] };
    expect(simulate(resources, { url: "http://a.com/x" }).action).toEqual({
      kind: "redirect",
      status: 301,
      location: "https://a.com/x",
    });
    expect(simulate(resources, { url: "https://a.com/x" }).action).toMatchObject({ kind: "cluster" });
  });
});

describe("listeners and filter chains", () => {
  const route: RouteConfiguration = { name: "r", virtualHosts: [vhost("all", ["*"])] };

  it("picks the listener by port, preferring an exact address over 0.0.0.0, or by name", () => {
    const exact = {
      ...httpListener("exact", 80, "r"),
      address: { socketAddress: { address: "10.0.0.1", portValue: 80 } },
    };
    const resources = {
      listeners: [httpListener("any", 80, "r"), exact, httpListener("other", 81, "r")],
      routes: [route],
    };
    expect(simulate(resources, { url: "http://x/", address: "10.0.0.1" }).listener?.name).toBe("exact");
    expect(simulate(resources, { url: "http://x/", address: "10.0.0.2" }).listener?.name).toBe("any");
    expect(simulate(resources, { url: "http://x:81/" }).listener?.name).toBe("other");
    expect(simulate(resources, { listener: "other" }).listener?.name).toBe("other");
    expect(simulate(resources, { url: "http://x:82/" }).action).toEqual({
      kind: "connection-closed",
      reason: "no listener",
    });
    expect(() => simulate(resources, { listener: "nope" })).toThrow(XdsKitError);
  });

  it("filter_chain_match: most specific at each step, no backtracking, default chain last", () => {
    const chain = (name: string, match: object) => ({
      ...httpListener(name, 0, "r").filterChains?.[0],
      name,
      filterChainMatch: match,
    });
    const listener: Listener = {
      name: "l",
      address: { socketAddress: { address: "0.0.0.0", portValue: 443 } },
      listenerFilters: [{ name: "envoy.filters.listener.tls_inspector" }],
      filterChains: [
        chain("sni-exact", { serverNames: ["a.example.com"], transportProtocol: "tls" }),
        chain("sni-wild", { serverNames: ["*.example.com"] }),
        chain("ip", { prefixRanges: [{ addressPrefix: "10.0.0.0", prefixLen: 8 }], sourcePorts: [1234] }),
        chain("plain", { transportProtocol: "raw_buffer" }),
        chain("alpn", { applicationProtocols: ["h2"], transportProtocol: "tls" }),
      ],
      defaultFilterChain: { name: "fallback", filters: httpListener("d", 0, "r").filterChains?.[0]?.filters },
    };
    const resources = { listeners: [listener], routes: [route] };
    const chainOf = (request: Record<string, unknown>) => {
      const r = simulate(resources, { port: 443, ...request });
      return r.filterChain?.name ?? r.action.kind;
    };
    expect(chainOf({ tls: { sni: "a.example.com" } })).toBe("sni-exact");
    expect(chainOf({ tls: { sni: "b.example.com" } })).toBe("sni-wild");
    expect(chainOf({ tls: { sni: "x.b.example.com" } })).toBe("sni-wild");
    expect(chainOf({ tls: { sni: "other.org", alpn: ["h2"] } })).toBe("alpn");
    expect(chainOf({})).toBe("plain");
    // The destination IP branch wins, then its source port does not match: no fallback to "plain".
    expect(chainOf({ address: "10.1.2.3", source: { port: 1234 } })).toBe("ip");
    expect(chainOf({ address: "10.1.2.3", source: { port: 999 } })).toBe("fallback");
  });

  it("a listener named in the request lends its address and port to the connection", () => {
    const listener: Listener = {
      name: "l",
      address: { socketAddress: { address: "10.0.0.1", portValue: 8080 } },
      filterChains: [
        {
          ...httpListener("x", 0, "r").filterChains?.[0],
          name: "port-8080",
          filterChainMatch: { destinationPort: 8080 },
        },
        {
          ...httpListener("x", 0, "r").filterChains?.[0],
          name: "ip",
          filterChainMatch: { prefixRanges: [{ addressPrefix: "10.0.0.1", prefixLen: 32 }] },
        },
      ],
    };
    const resources = { listeners: [listener], routes: [route] };
    expect(simulate(resources, { listener: "l" }).filterChain?.name).toBe("port-8080");
    expect(simulate(resources, { listener: "l", port: 9090 }).filterChain?.name).toBe("ip");
  });

  it("source_type: only 127.0.0.1, ::1 or the destination address itself count as local", () => {
    const chain = (name: string, sourceType: number) => ({
      ...httpListener(name, 0, "r").filterChains?.[0],
      name,
      filterChainMatch: { sourceType },
    });
    const listener: Listener = {
      name: "l",
      address: { socketAddress: { address: "0.0.0.0", portValue: 80 } },
      filterChains: [chain("local", 1), chain("external", 2)],
    };
    const chainOf = (source: string, address = "127.0.0.1") =>
      simulate({ listeners: [listener], routes: [route] }, { port: 80, address, source: { address: source } })
        .filterChain?.name;
    expect(chainOf("127.0.0.1")).toBe("local");
    expect(chainOf("127.0.0.5")).toBe("external");
    expect(chainOf("10.0.0.7", "10.0.0.7")).toBe("local");
    expect(chainOf("::1", "::1")).toBe("local");
  });

  it("the connection manager strips a matching port before routing when asked", () => {
    const config: RouteConfiguration = { name: "r", virtualHosts: [vhost("exact", ["a.com"]), vhost("all", ["*"])] };
    const plain = { listeners: [httpListener("l", 8080, "r")], routes: [config] };
    const stripping = { listeners: [httpListener("l", 8080, "r", { stripMatchingHostPort: true })], routes: [config] };
    expect(simulate(plain, { url: "http://a.com:8080/" }).virtualHost?.name).toBe("all");
    expect(simulate(stripping, { url: "http://a.com:8080/" }).virtualHost?.name).toBe("exact");
  });
});

describe("inputs", () => {
  const config: RouteConfiguration = { name: "r", virtualHosts: [vhost("all", ["*"])] };
  const listener = httpListener("l", 8080, "r");

  it("takes a core Snapshot and snapshot-style resources", () => {
    const snapshot = createSnapshot({ resources: { Listener: [listener], RouteConfiguration: [config] } });
    expect(simulate(snapshot, { url: "http://x:8080/" }).action).toMatchObject({ kind: "cluster", cluster: "all" });
    expect(
      simulate({ Listener: [listener], RouteConfiguration: [config] }, { url: "http://x:8080/" }).route?.index,
    ).toBe(0);
  });

  it("reads an Envoy admin config_dump", () => {
    const dump = {
      configs: [
        {
          "@type": "type.googleapis.com/envoy.admin.v3.ListenersConfigDump",
          dynamic_listeners: [
            {
              name: "l",
              active_state: {
                listener: {
                  "@type": resourceTypes.Listener.typeUrl,
                  ...(resourceToJson(resourceTypes.Listener, listener, { useProtoFieldName: true }) as object),
                },
              },
            },
          ],
        },
        {
          "@type": "type.googleapis.com/envoy.admin.v3.RoutesConfigDump",
          dynamic_route_configs: [
            {
              route_config: {
                "@type": resourceTypes.RouteConfiguration.typeUrl,
                ...(messageToJson(
                  resourceTypes.RouteConfiguration.messageName,
                  resourceTypes.RouteConfiguration.codec,
                  config,
                ) as object),
              },
            },
          ],
        },
      ],
    };
    const resources = resourcesFromConfigDump(JSON.parse(JSON.stringify(dump)));
    expect(resources.listeners?.map((l) => l.name)).toEqual(["l"]);
    expect(simulate(resources, { url: "http://x:8080/y" }).action).toMatchObject({ kind: "cluster", cluster: "all" });
    expect(() => resourcesFromConfigDump({})).toThrow(/configs array/);
  });

  it("keeps typed configs of unknown types opaque, so a dump with foreign filters still simulates", () => {
    const dump = {
      configs: [
        {
          "@type": "type.googleapis.com/envoy.admin.v3.RoutesConfigDump",
          dynamic_route_configs: [
            {
              route_config: {
                "@type": resourceTypes.RouteConfiguration.typeUrl,
                name: "r",
                virtual_hosts: [
                  {
                    name: "v",
                    domains: ["*"],
                    typed_per_filter_config: {
                      "istio.stats": {
                        "@type": "type.googleapis.com/stats.PluginConfig",
                        disable_host_header_fallback: true,
                      },
                    },
                    routes: [
                      {
                        match: {
                          path_match_policy: {
                            name: "envoy.path.match.uri_template.uri_template_matcher",
                            typed_config: {
                              "@type":
                                "type.googleapis.com/envoy.extensions.path.match.uri_template.v3.UriTemplateMatchConfig",
                              path_template: "/items/{id}",
                            },
                          },
                        },
                        route: { cluster: "items" },
                      },
                    ],
                  },
                ],
              },
            },
          ],
        },
      ],
    };
    const resources = resourcesFromConfigDump(dump);
    expect(simulate(resources, { path: "/items/7" }).action).toMatchObject({ kind: "cluster", cluster: "items" });
    expect(simulate(resources, { path: "/items/7/x" }).action).toMatchObject({ kind: "local-reply", status: 404 });
  });

  it("checks the request at the door", () => {
    expect(() => simulate({ routes: [config] }, { url: "not a url" })).toThrow(/request.url/);
    expect(() => simulate({ routes: [config] }, { port: 70000 })).toThrow(/request.port/);
    expect(() => simulate({ routes: [config] }, { path: "x" })).toThrow(/request.path/);
    expect(() => simulate({ routes: [config] }, { headers: { ":path": "/" } })).toThrow(/pseudo-header/);
    expect(() => simulate(null as never, {})).toThrow(XdsKitError);
  });
});

describe("explain", () => {
  it("says why each earlier route did not match", () => {
    const result = simulate(
      routesOf([
        {
          name: "jason",
          match: { prefix: "/", headers: [{ name: "end-user", stringMatch: { exact: "jason" } }] },
          route: { cluster: "v2" },
        },
        { name: "api", match: { prefix: "/api" }, route: { cluster: "api" } },
        { name: "rest", match: { prefix: "/" }, route: { cluster: "v1" } },
      ]),
      { path: "/reviews", headers: { "end-user": "mary" } },
    );
    const text = explain(result);
    expect(text).toContain('✗ route #0 "jason"');
    expect(text).toContain('header end-user: "mary" is not exact "jason"');
    expect(text).toContain('✗ route #1 "api" (prefix "/api"): no — path "/reviews" does not start with "/api"');
    expect(text).toContain('✓ route #2 "rest"');
    expect(text).toContain('cluster "v1"');
  });
});
