// What every call (stream or Fetch) does at its start and end: authenticate the peer, and turn an error into
// the gRPC status the call ends with.
import type { PeerCertificate } from "node:tls";
import * as grpc from "@grpc/grpc-js";
import { XdsKitError } from "@xdskit/core";
import { FetchRefused } from "./fetch.js";
import type { Identity, PeerInfo, ResolvedXdsServerOptions } from "./options.js";
import { StreamError } from "./stream-base.js";

/** The status a call ends with on `error`: refusals keep their code, bad input is INVALID_ARGUMENT, the rest INTERNAL. */
export function grpcStatusOf(error: unknown): { code: grpc.status; details: string } {
  if (error instanceof StreamError || error instanceof FetchRefused)
    return { code: error.code, details: error.message };
  if (error instanceof XdsKitError && error.code === "INVALID_ARGUMENT")
    return { code: grpc.status.INVALID_ARGUMENT, details: error.message };
  return { code: grpc.status.INTERNAL, details: `internal error: ${(error as Error)?.message ?? String(error)}` };
}

/** The identity `options.authenticate` gives the call's peer; a throw becomes UNAUTHENTICATED. */
export async function authenticate(
  options: ResolvedXdsServerOptions,
  call: { getPeer(): string; getAuthContext?(): { sslPeerCertificate?: PeerCertificate } },
): Promise<Identity | undefined> {
  if (!options.authenticate) return undefined;
  const auth = call.getAuthContext?.();
  const certificate = auth?.sslPeerCertificate;
  const peer: PeerInfo = {
    address: call.getPeer(),
    ...(certificate?.raw
      ? {
          certificate: {
            raw: certificate.raw,
            ...(certificate.subjectaltname ? { subjectAltNames: certificate.subjectaltname } : {}),
          },
        }
      : {}),
  };
  try {
    return await options.authenticate(peer);
  } catch (error) {
    throw new StreamError(grpc.status.UNAUTHENTICATED, `authentication failed: ${(error as Error).message}`);
  }
}
