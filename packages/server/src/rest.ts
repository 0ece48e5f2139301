// REST-JSON discovery (XDS-RULES R32): POST /v3/discovery:<type> with a DiscoveryRequest in canonical
// proto3 JSON; the answer is a DiscoveryResponse in proto3 JSON, or 304 when nothing changed since the
// version the client names. There is no ADS and no stream state; the nonce is optional. What is answered is
// decided by fetch.ts, which also serves the gRPC Fetch* methods.
import type { IncomingMessage, ServerResponse } from "node:http";
import { status } from "@grpc/grpc-js";
import {
  binaryFromProtoJson,
  type ConfigWatcher,
  DiscoveryRequest,
  protoJsonFromBinary,
  type ResourceType,
  resourceTypeList,
} from "@xdskit/core";
import type { SotwResponse } from "@xdskit/core/watcher";
import { FetchRefused, fetchDiscovery } from "./fetch.js";
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
    // A client that goes away stops its long poll.
    const gone = new AbortController();
    res.on("close", () => gone.abort());
    readBody(req, maxBodyBytes)
      .then((body) => serve(options.cache, type, body, pollTimeoutMs, res, gone.signal))
      .catch((error: Error) =>
        // Refusals (all INVALID_ARGUMENT here: REST has no authorize hook) are 400; faults are 500.
        error instanceof FetchRefused
          ? reply(res, 400, { error: error.message })
          : reply(res, 500, { error: `internal error: ${error.message}` }),
      );
    return true;
  };
}

async function serve(
  cache: ConfigWatcher,
  type: ResourceType,
  body: string,
  pollTimeoutMs: number,
  res: ServerResponse,
  signal: AbortSignal,
): Promise<void> {
  let request: DiscoveryRequest;
  try {
    request = DiscoveryRequest.decode(binaryFromProtoJson(DISCOVERY_REQUEST, JSON.parse(body || "{}")));
  } catch (error) {
    throw new FetchRefused(status.INVALID_ARGUMENT, `invalid DiscoveryRequest JSON: ${(error as Error).message}`);
  }
  const response = await fetchDiscovery(request, { cache, type, endpoint: type.restPath ?? "", pollTimeoutMs, signal });
  if (response) send(res, response);
  else reply(res, 304);
}

function send(res: ServerResponse, response: SotwResponse): void {
  reply(res, 200, protoJsonFromBinary(DISCOVERY_RESPONSE, encodeSotwResponse(response, "")));
}

function reply(res: ServerResponse, httpStatus: number, json?: unknown): void {
  if (json === undefined) {
    res.writeHead(httpStatus).end();
    return;
  }
  const body = JSON.stringify(json);
  res
    .writeHead(httpStatus, { "content-type": "application/json", "content-length": Buffer.byteLength(body) })
    .end(body);
}

function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new FetchRefused(status.INVALID_ARGUMENT, `request body over ${limit} bytes`));
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}
