// Client Status Discovery Service: what each connected node was sent, accepted and rejected, from the
// ACK tracker. Answers FetchClientStatus and StreamClientStatus.
import type * as grpc from "@grpc/grpc-js";
import type { AckTracker, Node, NodeStatus, PreparedResource } from "@xdskit/core";
import {
  type ClientConfig,
  type ClientConfig_GenericXdsConfig,
  ClientResourceStatus,
  ClientStatusDiscoveryServiceDefinition,
  ClientStatusRequest,
  ClientStatusResponse,
  ConfigStatus,
} from "@xdskit/core/services";

/** Where CSDS reads client state. A SnapshotCache satisfies it. */
export interface ClientStatusSource {
  readonly tracker: AckTracker;
  /** The resource a node currently gets, to include its contents (optional). */
  resourceOf?(node: Node, typeUrl: string, name: string): PreparedResource | undefined;
}

interface StringMatch {
  exact?: string | undefined;
  prefix?: string | undefined;
  suffix?: string | undefined;
  contains?: string | undefined;
  safeRegex?: { regex?: string | undefined } | undefined;
  ignoreCase?: boolean | undefined;
}

function matches(matcher: StringMatch | undefined, value: string): boolean {
  if (!matcher) return true;
  const fold = (s: string) => (matcher.ignoreCase ? s.toLowerCase() : s);
  const v = fold(value);
  if (matcher.exact !== undefined) return v === fold(matcher.exact);
  if (matcher.prefix !== undefined) return v.startsWith(fold(matcher.prefix));
  if (matcher.suffix !== undefined) return v.endsWith(fold(matcher.suffix));
  if (matcher.contains !== undefined) return v.includes(fold(matcher.contains));
  if (matcher.safeRegex?.regex !== undefined) return new RegExp(`^(?:${matcher.safeRegex.regex})$`).test(value);
  return true;
}

function toTimestamp(ms: number) {
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 };
}

/** One node's ClientConfig: a GenericXdsConfig per resource it was sent. */
export function clientConfigOf(status: NodeStatus, source: ClientStatusSource, includeContents: boolean): ClientConfig {
  const configs: ClientConfig_GenericXdsConfig[] = [];
  for (const [typeUrl, type] of status.types) {
    const configStatus =
      type.state === "SYNCED" ? ConfigStatus.SYNCED : type.state === "NACKED" ? ConfigStatus.ERROR : ConfigStatus.STALE;
    for (const resource of [...type.resources.values()].sort((a, b) => a.name.localeCompare(b.name))) {
      const prepared = includeContents ? source.resourceOf?.(status.node, typeUrl, resource.name) : undefined;
      const clientStatus = resource.nacked
        ? ClientResourceStatus.NACKED
        : resource.ackedVersion === resource.sentVersion
          ? ClientResourceStatus.ACKED
          : ClientResourceStatus.REQUESTED;
      configs.push({
        typeUrl,
        name: resource.name,
        versionInfo: resource.ackedVersion ?? "",
        configStatus,
        clientStatus,
        ...(prepared?.version === resource.sentVersion ? { xdsConfig: prepared.any } : {}),
        ...(type.acked ? { lastUpdated: toTimestamp(type.acked.at) } : {}),
        ...(resource.nacked && type.nacked
          ? {
              errorState: {
                details: type.nacked.errorMessage,
                versionInfo: type.nacked.version,
                lastUpdateAttempt: toTimestamp(type.nacked.at),
              },
            }
          : {}),
      });
    }
  }
  return { node: status.node, genericXdsConfigs: configs };
}

/** The CSDS answer to one request. */
export function clientStatus(source: ClientStatusSource, request: ClientStatusRequest): ClientStatusResponse {
  const idMatchers = (request.nodeMatchers ?? []).map((m) => m.nodeId);
  const nodes = source.tracker
    .nodes()
    .filter((n) => idMatchers.length === 0 || idMatchers.some((m) => matches(m, n.nodeId)))
    .sort((a, b) => a.nodeId.localeCompare(b.nodeId));
  return { config: nodes.map((n) => clientConfigOf(n, source, !request.excludeResourceContents)) };
}

export function addClientStatusService(server: grpc.Server, source: ClientStatusSource): void {
  const fullName = ClientStatusDiscoveryServiceDefinition.fullName;
  const common = {
    requestSerialize: (value: ClientStatusRequest) => Buffer.from(ClientStatusRequest.encode(value).finish()),
    requestDeserialize: (bytes: Buffer) => ClientStatusRequest.decode(bytes),
    responseSerialize: (value: ClientStatusResponse) => Buffer.from(ClientStatusResponse.encode(value).finish()),
    responseDeserialize: (bytes: Buffer) => ClientStatusResponse.decode(bytes),
  };
  server.addService(
    {
      streamClientStatus: {
        path: `/${fullName}/StreamClientStatus`,
        requestStream: true,
        responseStream: true,
        ...common,
      },
      fetchClientStatus: {
        path: `/${fullName}/FetchClientStatus`,
        requestStream: false,
        responseStream: false,
        ...common,
      },
    },
    {
      streamClientStatus: ((call: grpc.ServerDuplexStream<ClientStatusRequest, ClientStatusResponse>) => {
        call.on("data", (request: ClientStatusRequest) => call.write(clientStatus(source, request)));
        call.on("end", () => call.end());
        call.on("error", () => {});
      }) as grpc.handleBidiStreamingCall<unknown, unknown>,
      fetchClientStatus: ((call: grpc.ServerUnaryCall<ClientStatusRequest, ClientStatusResponse>, callback) =>
        callback(null, clientStatus(source, call.request))) as grpc.handleUnaryCall<unknown, unknown>,
    },
  );
}
