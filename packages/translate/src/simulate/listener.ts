// Which listener takes a connection and which of its filter chains serves it, by Envoy's
// filter_chain_match rules: criteria are tried in a fixed order (destination port, destination IP,
// server name, transport protocol, application protocols, direct source IP, source type, source IP,
// source port); at each step the most specific value that matches wins and the chains without that
// criterion are only the fallback; there is no backtracking to a less specific branch.
import type { Listener } from "@xdskit/core";
import { inCidr, isAnyAddress, isLoopback, sameIp } from "./ip.js";
import { typeUrlOf } from "./opaque-any.js";
import type { NormalizedRequest } from "./request.js";

export type FilterChainConfig = NonNullable<Listener["filterChains"]>[number];
type FilterChainMatchConfig = NonNullable<FilterChainConfig["filterChainMatch"]>;
type CidrRangeConfig = NonNullable<FilterChainMatchConfig["prefixRanges"]>[number];

const TLS_INSPECTOR = "envoy.filters.listener.tls_inspector";
const HTTP_INSPECTOR = "envoy.filters.listener.http_inspector";

/** A listener's bound addresses: its address and additional_addresses (socket addresses only). */
export function listenerAddresses(listener: Listener): Array<{ address: string; port: number }> {
  const out: Array<{ address: string; port: number }> = [];
  const add = (socket: { address?: string; portValue?: number } | undefined) => {
    if (socket) out.push({ address: socket.address ?? "", port: socket.portValue ?? 0 });
  };
  add(listener.address?.socketAddress);
  for (const extra of listener.additionalAddresses ?? []) add(extra.address?.socketAddress);
  return out;
}

/** The listener a connection to `destination` reaches: an exact address before a wildcard one. */
export function findListener(
  listeners: readonly Listener[],
  destination: { address: string; port: number },
): { listener: Listener; reason: string } | undefined {
  let wildcard: Listener | undefined;
  for (const listener of listeners) {
    for (const bound of listenerAddresses(listener)) {
      if (bound.port !== destination.port) continue;
      if (sameIp(bound.address, destination.address))
        return { listener, reason: `bound to ${bound.address}:${bound.port}` };
      if (!wildcard && isAnyAddress(bound.address)) wildcard = listener;
    }
  }
  if (wildcard) return { listener: wildcard, reason: `bound to every address on port ${destination.port}` };
  return undefined;
}

function hasListenerFilter(listener: Listener, name: string, typeSuffix: string): boolean {
  return (listener.listenerFilters ?? []).some((f) => f.name === name || typeUrlOf(f.typedConfig).endsWith(typeSuffix));
}

/** What the listener's filters learn about the connection before a filter chain is chosen. */
export interface ConnectionFacts {
  transportProtocol: string;
  serverName: string;
  applicationProtocols: readonly string[];
}

export function connectionFacts(listener: Listener | undefined, request: NormalizedRequest): ConnectionFacts {
  const tlsInspector = listener ? hasListenerFilter(listener, TLS_INSPECTOR, ".tls_inspector.v3.TlsInspector") : false;
  const httpInspector = listener
    ? hasListenerFilter(listener, HTTP_INSPECTOR, ".http_inspector.v3.HttpInspector")
    : false;
  if (request.tls && tlsInspector)
    return { transportProtocol: "tls", serverName: request.tls.sni ?? "", applicationProtocols: request.tls.alpn };
  return {
    transportProtocol: "raw_buffer",
    serverName: "",
    applicationProtocols: !request.tls && httpInspector ? ["http/1.1"] : [],
  };
}

/** One step of filter chain selection, for explain(). */
export interface FilterChainStep {
  criterion: string;
  /** Indexes of the chains still in the running after this step. */
  remaining: number[];
  note: string;
}

export interface FilterChainChoice {
  /** Index in filter_chains, or "default" for default_filter_chain; undefined when none serves. */
  index: number | "default" | undefined;
  chain: FilterChainConfig | undefined;
  steps: FilterChainStep[];
  facts: ConnectionFacts;
}

/** Narrows `candidates` to the most specific value that matches, else to those without the criterion. */
function narrow<T>(
  candidates: number[],
  matchOf: (index: number) => T | undefined,
  rank: (value: T) => number | undefined,
): number[] {
  let best = -1;
  let winners: number[] = [];
  const unset: number[] = [];
  for (const index of candidates) {
    const value = matchOf(index);
    if (value === undefined) {
      unset.push(index);
      continue;
    }
    const score = rank(value);
    if (score === undefined) continue;
    if (score > best) {
      best = score;
      winners = [index];
    } else if (score === best) winners.push(index);
  }
  return winners.length > 0 ? winners : unset;
}

function cidrScore(ranges: readonly CidrRangeConfig[], address: string): number | undefined {
  let best: number | undefined;
  for (const range of ranges) {
    const length = range.prefixLen ?? 0;
    if (inCidr(address, range.addressPrefix ?? "", length) && (best === undefined || length > best)) best = length;
  }
  return best;
}

const nonEmpty = <T>(list: readonly T[] | undefined) => (list && list.length > 0 ? list : undefined);

/** Envoy's filter chain selection for one connection. */
export function findFilterChain(listener: Listener, request: NormalizedRequest): FilterChainChoice {
  const chains = listener.filterChains ?? [];
  const facts = connectionFacts(listener, request);
  const steps: FilterChainStep[] = [];
  const match = (i: number): FilterChainMatchConfig => chains[i]?.filterChainMatch ?? {};
  let candidates = chains.map((_, i) => i);
  const step = (criterion: string, next: number[], note: string) => {
    candidates = next;
    steps.push({ criterion, remaining: next, note });
  };
  const { destination, source } = request;

  step(
    "destination_port",
    narrow(
      candidates,
      (i) => match(i).destinationPort || undefined,
      (port) => (port === destination.port ? 1 : undefined),
    ),
    `port ${destination.port}`,
  );
  step(
    "prefix_ranges",
    narrow(
      candidates,
      (i) => nonEmpty(match(i).prefixRanges),
      (ranges) => cidrScore(ranges, destination.address),
    ),
    `destination ${destination.address}`,
  );
  const sni = facts.serverName;
  step(
    "server_names",
    narrow(
      candidates,
      (i) => nonEmpty(match(i).serverNames),
      (names) => {
        if (sni === "") return undefined;
        let score: number | undefined;
        for (const name of names) {
          const lower = name.toLowerCase();
          if (lower === sni.toLowerCase()) return Number.MAX_SAFE_INTEGER;
          // "*.example.com" matches any name ending in ".example.com"; the longest wildcard wins.
          if (lower.startsWith("*.") && sni.toLowerCase().endsWith(lower.slice(1)) && sni.length > lower.length - 1)
            score = Math.max(score ?? 0, lower.length);
        }
        return score;
      },
    ),
    sni ? `server name ${sni}` : "no server name",
  );
  step(
    "transport_protocol",
    narrow(
      candidates,
      (i) => match(i).transportProtocol || undefined,
      (protocol) => (protocol === facts.transportProtocol ? 1 : undefined),
    ),
    `transport ${facts.transportProtocol}`,
  );
  step(
    "application_protocols",
    narrow(
      candidates,
      (i) => nonEmpty(match(i).applicationProtocols),
      (protocols) => {
        // The connection's protocols are tried in its own order: the first one any chain lists wins.
        const position = facts.applicationProtocols.findIndex((p) => protocols.includes(p));
        return position < 0 ? undefined : facts.applicationProtocols.length - position;
      },
    ),
    `application protocols [${facts.applicationProtocols.join(", ")}]`,
  );
  step(
    "direct_source_prefix_ranges",
    narrow(
      candidates,
      (i) => nonEmpty(match(i).directSourcePrefixRanges),
      (ranges) => cidrScore(ranges, source.address),
    ),
    `direct source ${source.address}`,
  );
  const local = isLoopback(source.address) || sameIp(source.address, destination.address);
  step(
    "source_type",
    narrow(
      candidates,
      (i) => match(i).sourceType || undefined,
      // 1 = SAME_IP_OR_LOOPBACK, 2 = EXTERNAL
      (type) => ((type === 1 && local) || (type === 2 && !local) ? 1 : undefined),
    ),
    local ? "local source" : "external source",
  );
  step(
    "source_prefix_ranges",
    narrow(
      candidates,
      (i) => nonEmpty(match(i).sourcePrefixRanges),
      (ranges) => cidrScore(ranges, source.address),
    ),
    `source ${source.address}`,
  );
  step(
    "source_ports",
    narrow(
      candidates,
      (i) => nonEmpty(match(i).sourcePorts),
      (ports) => (ports.includes(source.port) ? 1 : undefined),
    ),
    `source port ${source.port}`,
  );
  const index = candidates[0];
  if (index !== undefined) return { index, chain: chains[index], steps, facts };
  if (listener.defaultFilterChain) return { index: "default", chain: listener.defaultFilterChain, steps, facts };
  return { index: undefined, chain: undefined, steps, facts };
}
