// REST-JSON discovery (XDS-RULES R32): POST /v3/discovery:<type> with a DiscoveryRequest in canonical
// proto3 JSON; the answer is a DiscoveryResponse in proto3 JSON, or 304 when nothing changed since the
// version the client names. There is no ADS and no stream state; the nonce is optional.
import type { IncomingMessage, ServerResponse } from "node:http";
import {
  binaryFromProtoJson,
  type ConfigWatcher,
  DiscoveryRequest,
  protoJsonFromBinary,
  type ResourceType,
  resourceTypeList,
  type SotwResponse,
  type WatchRequest,
} from "@xdskit/core";
import { encodeSotwResponse } from "./wire.js";

/** Options of {@link createRestDiscoveryHandler}. */
export interface RestDiscoveryOptions {
  /** Where resources come from. Required. */
  cache: ConfigWatcher;
  /**
   * How long a request whose version is current waits for a change before answering 304 (long poll).
   * Default: 0 (answer 304 at once, as Envoy's REST polling expects).
   */
  pollTimeoutMs?: number;
  /** Largest request body, bytes. Default: 1 MiB. */
  maxBodyBytes?: number;
}

const DISCOVERY_RESPONSE = "envoy.service.discovery.v3.DiscoveryResponse";
const DISCOVERY_REQUEST = "envoy.service.discovery.v3.DiscoveryRequest";

const byPath = new Map<string, ResourceType>(
  resourceTypeList.filter((t) => t.restPath).map((t) => [t.restPath as string, t]),
);

let restStreamIds = 0;

/**
 * A Node `http` request handler serving Envoy's REST-JSON discovery paths. Returns false (and writes
 * nothing) for other paths, so it can sit in front of other handlers.
 */
export function createRestDiscoveryHandler(
  options: RestDiscoveryOptions,
): (req: IncomingMessage, res: ServerResponse) => boolean {
  const pollTimeoutMs = options.pollTimeoutMs ?? 0;
  const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
  return (req, res) => {
    const type = byPath.get((req.url ?? "").split("?")[0] ?? "");
    if (!type) return false;
    if (req.method !== "POST") {
      reply(res, 405, { error: `use POST for ${type.restPath}` });
      return true;
    }
    readBody(req, maxBodyBytes)
      .then((body) => serve(options.cache, type, body, pollTimeoutMs, res))
      .catch((error: Error) => reply(res, 400, { error: error.message }));
    return true;
  };
}

async function serve(
  cache: ConfigWatcher,
  type: ResourceType,
  body: string,
  pollTimeoutMs: number,
  res: ServerResponse,
): Promise<void> {
  let request: DiscoveryRequest;
  try {
    request = DiscoveryRequest.decode(binaryFromProtoJson(DISCOVERY_REQUEST, JSON.parse(body || "{}")));
  } catch (error) {
    throw new Error(`invalid DiscoveryRequest JSON: ${(error as Error).message}`);
  }
  if (request.typeUrl && request.typeUrl !== type.typeUrl)
    throw new Error(`${type.restPath} serves ${type.typeUrl}, the request names type_url "${request.typeUrl}"`);
  if (!request.node) throw new Error("the request must carry node");
  const names = (request.resourceNames ?? []).filter((n) => n !== "*");
  const view: WatchRequest = {
    streamId: --restStreamIds,
    node: request.node,
    typeUrl: type.typeUrl,
    wildcard: names.length === 0 || (request.resourceNames ?? []).includes("*"),
    names: new Set(names),
    known: new Map(),
    responded: false,
  };
  const current = await once(cache, view, 0);
  if (current && current.version !== (request.versionInfo ?? "")) return send(res, current);
  if (!current && pollTimeoutMs === 0) return void reply(res, 304);
  // Up to date: wait for something to change (long poll), else 304.
  const known = new Map((current?.resources ?? []).map((r) => [r.name, r.version] as const));
  const changed = await once(cache, { ...view, known, responded: true }, pollTimeoutMs);
  if (changed) send(res, changed);
  else reply(res, 304);
}

/** One watch, answered within `timeoutMs` (0: only if the cache answers right away). */
function once(cache: ConfigWatcher, view: WatchRequest, timeoutMs: number): Promise<SotwResponse | undefined> {
  return new Promise((resolve) => {
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    let cancel: (() => void) | undefined;
    const finish = (response: SotwResponse | undefined) => {
      if (done) return;
      done = true;
      if (timer) clearTimeout(timer);
      cancel?.();
      resolve(response);
    };
    const cancelWatch = cache.watchSotw(view, finish);
    if (done) return;
    cancel = cancelWatch;
    if (timeoutMs <= 0) finish(undefined);
    else timer = setTimeout(() => finish(undefined), timeoutMs);
  });
}

function send(res: ServerResponse, response: SotwResponse): void {
  reply(res, 200, protoJsonFromBinary(DISCOVERY_RESPONSE, encodeSotwResponse(response, "")));
}

function reply(res: ServerResponse, status: number, json?: unknown): void {
  if (json === undefined) {
    res.writeHead(status).end();
    return;
  }
  const body = JSON.stringify(json);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) }).end(body);
}

function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new Error(`request body over ${limit} bytes`));
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}
