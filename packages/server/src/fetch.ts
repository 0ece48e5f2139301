// Stateless discovery (XDS-RULES R32): one DiscoveryRequest in, the current state of its type out, or
// "up to date" when the client's version_info is current. No stream, no nonce, no ADS. Serves both REST-JSON
// discovery (rest.ts) and the unary Fetch<Plural> methods of the per-type gRPC services (xds-server.ts).
import { status } from "@grpc/grpc-js";
import type { ConfigWatcher, DiscoveryRequest, Node, ResourceType } from "@xdskit/core";
import type { SotwResponse, WatchRequest } from "@xdskit/core/watcher";
import { sotwRefusal } from "./delta-only.js";
import { canonicalNames } from "./names.js";

/**
 * The gRPC `details` prefix of an up-to-date answer to Fetch*: go-control-plane's text for the same case
 * (its `SkipFetchError`), so clients written against it recognise it.
 */
export const FETCH_UP_TO_DATE = "skip fetch: version up to date";

/** A request refused before anything was read: a gRPC status code and a message naming the field at fault. */
export class FetchRefused extends Error {
  constructor(
    readonly code: status,
    message: string,
  ) {
    super(message);
  }
}

/** How one fetch is served. */
export interface FetchOptions {
  readonly cache: ConfigWatcher;
  /** The only type the endpoint serves: a per-type gRPC service's or a REST path's. */
  readonly type: ResourceType;
  /** The endpoint, as messages name it: "/v3/discovery:clusters", "FetchClusters". */
  readonly endpoint: string;
  /** How long a client whose version is current waits for a change (long poll); 0 answers at once. */
  readonly pollTimeoutMs: number;
  /** Longest resource_names list accepted; more is INVALID_ARGUMENT. Default: no limit. */
  readonly maxResourceNames?: number;
  /** Allows the names (`["*"]` for all) or refuses them (true / false / a reason); refusals are PERMISSION_DENIED. */
  readonly authorize?: (node: Node, names: readonly string[]) => boolean | string | Promise<boolean | string>;
  /** Aborted when the client went away: a long poll stops waiting. */
  readonly signal?: AbortSignal;
}

let fetchIds = 0;

/**
 * The current response for `request`, or undefined when there is nothing newer than its `version_info` (REST
 * answers 304, Fetch* FAILED_PRECONDITION). Requested names that do not exist are left out; when none exists
 * an LDS/CDS answer is empty (the client deletes them, R12) while other types have nothing to send (R13).
 * Throws {@link FetchRefused} for a request that cannot be served.
 */
export async function fetchDiscovery(
  request: DiscoveryRequest,
  options: FetchOptions,
): Promise<SotwResponse | undefined> {
  const { type } = options;
  if (request.typeUrl && request.typeUrl !== type.typeUrl)
    throw new FetchRefused(
      status.INVALID_ARGUMENT,
      `${options.endpoint} serves ${type.typeUrl}; the request names type_url "${request.typeUrl}"`,
    );
  const node = request.node;
  if (!node)
    throw new FetchRefused(
      status.INVALID_ARGUMENT,
      "node is required: there is no stream to remember it from, so every request must carry node",
    );
  const refusal = sotwRefusal(type);
  if (refusal) throw new FetchRefused(status.INVALID_ARGUMENT, refusal);
  const requested = request.resourceNames ?? [];
  if (options.maxResourceNames !== undefined && requested.length > options.maxResourceNames)
    throw new FetchRefused(
      status.INVALID_ARGUMENT,
      `resource_names holds ${requested.length} names; at most ${options.maxResourceNames} are accepted`,
    );
  const names = canonicalNames(
    requested.filter((n) => n !== "*"),
    false,
    (reason) => new FetchRefused(status.INVALID_ARGUMENT, `resource_names: ${reason}`),
  );
  const wildcard = names.length === 0 || requested.includes("*");
  if (options.authorize) {
    const asked = wildcard ? ["*", ...names] : names;
    const verdict = await options.authorize(node, asked);
    if (verdict !== true) {
      const reason = typeof verdict === "string" && verdict ? verdict : "not authorized";
      throw new FetchRefused(
        status.PERMISSION_DENIED,
        `node "${node.id ?? ""}" may not fetch ${type.typeUrl} ${listed(asked)}: ${reason}`,
      );
    }
  }

  const view: WatchRequest = {
    streamId: --fetchIds,
    node,
    typeUrl: type.typeUrl,
    wildcard,
    names: new Set(names),
    known: new Map(),
    responded: false,
  };
  try {
    const current = await once(options.cache, view, 0, options.signal);
    if (current && current.version !== (request.versionInfo ?? "")) return current;
    if (options.pollTimeoutMs <= 0) return undefined;
    // Up to date: wait for something to change (long poll).
    const known = new Map((current?.resources ?? []).map((r) => [r.name, r.version] as const));
    return await once(options.cache, { ...view, known, responded: true }, options.pollTimeoutMs, options.signal);
  } finally {
    // A fetch is no stream: the cache forgets it (else every poll would count as a node connected for good).
    options.cache.feedback?.closed({ streamId: view.streamId, node });
  }
}

/** What a fetch asked for, for messages: `[a, b]`, `[*]`, at most five names. */
export function listed(names: readonly string[]): string {
  return `[${names.slice(0, 5).join(", ")}${names.length > 5 ? ", ..." : ""}]`;
}

/** One watch, answered within `timeoutMs` (0: only if the cache answers right away) or when `signal` aborts. */
function once(
  cache: ConfigWatcher,
  view: WatchRequest,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<SotwResponse | undefined> {
  return new Promise((resolve) => {
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    let cancel: (() => void) | undefined;
    const finish = (response: SotwResponse | undefined) => {
      if (done) return;
      done = true;
      if (timer) clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      cancel?.();
      resolve(response);
    };
    const onAbort = () => finish(undefined);
    const cancelWatch = cache.watchSotw(view, finish);
    if (done) return;
    cancel = cancelWatch;
    if (timeoutMs <= 0 || signal?.aborted) return finish(undefined);
    signal?.addEventListener("abort", onAbort);
    timer = setTimeout(() => finish(undefined), timeoutMs);
  });
}
