// Binding the server's address, checked at the door: a caller gets one XdsKitError saying what was wrong,
// never a grpc-js message, a silently chosen port (grpc-js binds 443 when none is given) or the line grpc-js
// prints on stderr when a bind fails.
import net from "node:net";
import type * as grpc from "@grpc/grpc-js";
import { XdsKitError } from "@xdskit/core";

/** The one address an XdsServer listens on: refuses a second listen and any listen after close. */
export interface ServerAddress {
  listen(address: string): Promise<number>;
  /** close() has begun: listen refuses from now on. */
  markClosed(): void;
}

export function createServerAddress(server: grpc.Server, credentials: grpc.ServerCredentials): ServerAddress {
  /** Where the server listens ("127.0.0.1:15010"), while binding or bound. */
  let listening: string | undefined;
  let closed = false;
  return {
    async listen(address) {
      const parsed = parseListenAddress(address);
      if (closed)
        throw new XdsKitError(
          "CLOSED",
          `listen("${address}"): the server was closed; create a new XdsServer to listen again`,
        );
      if (listening)
        throw new XdsKitError(
          "ALREADY_LISTENING",
          `listen("${address}"): the server already listens on ${listening}; one XdsServer listens on one address`,
        );
      listening = `${address} (binding)`;
      try {
        const port = await bindServer(server, address, parsed, credentials);
        listening =
          "host" in parsed ? `${parsed.host.includes(":") ? `[${parsed.host}]` : parsed.host}:${port}` : address;
        return port;
      } catch (error) {
        listening = undefined;
        throw error;
      }
    },
    markClosed() {
      closed = true;
    },
  };
}

/** Where to listen: a TCP host and port, or a Unix domain socket path. */
export type ListenAddress = { readonly host: string; readonly port: number } | { readonly unixPath: string };

const EXAMPLE = 'write "host:port", e.g. "127.0.0.1:15010" (port 0 picks a free port)';

/** Parses `listen`'s argument: "host:port", "[ipv6]:port" or "unix:/path". Throws INVALID_ARGUMENT. */
export function parseListenAddress(address: unknown): ListenAddress {
  if (typeof address !== "string")
    throw new XdsKitError(
      "INVALID_ARGUMENT",
      `listen(address): address must be a string, got ${address === null ? "null" : typeof address}; ${EXAMPLE}`,
    );
  if (address.startsWith("unix:")) {
    const unixPath = address.slice("unix:".length).replace(/^\/\/(?=\/)/, "");
    if (!unixPath) throw new XdsKitError("INVALID_ARGUMENT", `listen("${address}"): the socket path is empty`);
    return { unixPath };
  }
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+):(\d+)$/.exec(address);
  if (!match?.[1] || match[2] === undefined) {
    const why = /^[^:]+$|^\[[^\]]*\]$/.test(address) ? "the address has no port" : "the address is not host:port";
    throw new XdsKitError("INVALID_ARGUMENT", `listen("${address}"): ${why}; ${EXAMPLE}`);
  }
  const port = Number(match[2]);
  if (port > 65535)
    throw new XdsKitError("INVALID_ARGUMENT", `listen("${address}"): port ${port} is out of range (0 to 65535)`);
  return { host: match[1].replace(/^\[|\]$/g, ""), port };
}

/**
 * Binds `server` to `address` and returns the bound port (0 for a Unix socket). A probe bind finds a port another
 * process holds (ADDRESS_IN_USE) and, for an IP address, any other bind failure (INVALID_ARGUMENT) before grpc-js
 * tries, so grpc-js never logs its failure on stderr.
 */
export async function bindServer(
  server: grpc.Server,
  address: string,
  parsed: ListenAddress,
  credentials: grpc.ServerCredentials,
): Promise<number> {
  if ("host" in parsed) {
    const ipLiteral = net.isIP(parsed.host) !== 0;
    // A name may resolve to several addresses (localhost: 127.0.0.1 and ::1); grpc-js binds those it can.
    const failure = ipLiteral || parsed.port !== 0 ? await probeBind(parsed.host, parsed.port) : undefined;
    if (failure?.code === "EADDRINUSE")
      throw new XdsKitError(
        "ADDRESS_IN_USE",
        `cannot listen on ${address}: port ${parsed.port} is already in use on ${parsed.host} (EADDRINUSE)`,
      );
    if (failure && ipLiteral)
      throw new XdsKitError("INVALID_ARGUMENT", `cannot listen on ${address}: ${failure.message}`, { cause: failure });
  }
  return new Promise<number>((resolve, reject) => {
    server.bindAsync(address, credentials, (error, port) => {
      if (!error) return resolve(port);
      const inUse = /EADDRINUSE/.test(error.message);
      reject(
        new XdsKitError(
          inUse ? "ADDRESS_IN_USE" : "INVALID_ARGUMENT",
          `cannot listen on ${address}: ${bindFailure(error.message)}`,
          { cause: error },
        ),
      );
    });
  });
}

/** Binds host:port and lets go at once: the bind error, or undefined when the bind worked. */
function probeBind(host: string, port: number): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once("error", (error: NodeJS.ErrnoException) => resolve(error));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve(undefined)));
  });
}

/** grpc-js's "No address added out of total 1 resolved errors: [listen EACCES: ...]" → "listen EACCES: ...". */
function bindFailure(message: string): string {
  return /errors: \[(.+)\]$/.exec(message)?.[1] ?? message;
}
