// istio.v1.auth.IstioCertificateService/CreateCertificate: workloads send a CSR and get a certificate chain.
// Wire-compatible with Istio's proto (the messages generated in @xdskit/core). The caller's identity comes
// from its authentication — a client certificate this CA issued, or a bearer token the application's
// verifier accepts — never from the CSR. This module opens no socket: register `definition` and
// `implementation` on a grpc-js Server (e.g. an xDS server's `grpcServer`).

import { XdsKitError } from "@xdskit/core";
import { IstioCertificateRequest, IstioCertificateResponse } from "@xdskit/core/services";
import type { CertificateAuthority } from "./authority.js";
import { parseSpiffeId, spiffeIdOf, type WorkloadIdentity } from "./identity.js";

/** Full name of Istio's certificate service. */
export const ISTIO_CERTIFICATE_SERVICE = "istio.v1.auth.IstioCertificateService";
/** gRPC path of CreateCertificate. */
export const CREATE_CERTIFICATE_PATH = `/${ISTIO_CERTIFICATE_SERVICE}/CreateCertificate`;

/** gRPC status codes this service answers with (the numbers are gRPC's). */
export const CertificateServiceStatus = {
  INVALID_ARGUMENT: 3,
  PERMISSION_DENIED: 7,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

/** What a caller presented, as the transport saw it. */
export interface CallerCredentials {
  /** The client certificate (DER) of a TLS connection, if the client sent one. */
  readonly certificate?: Uint8Array;
  /** The token of an `authorization: Bearer <token>` header, if any. */
  readonly bearerToken?: string;
  /** "ip:port" of the peer, for messages and verifiers. */
  readonly peer?: string;
}

/** What a token verifier is told. */
export interface TokenVerificationRequest {
  readonly token: string;
  readonly peer: string | undefined;
}

/** Options of {@link createCertificateService}. */
export interface CertificateServiceOptions {
  /** The CA that signs. Required. */
  ca: CertificateAuthority;
  /**
   * Checks a bearer token and returns the identity it proves (a SPIFFE id or its parts), or undefined /
   * throws to refuse it (UNAUTHENTICATED with the thrown message). Default: none — bearer tokens refused.
   */
  verifyToken?: (
    request: TokenVerificationRequest,
  ) => WorkloadIdentity | string | undefined | Promise<WorkloadIdentity | string | undefined>;
  /** Accept client certificates issued by `ca` as proof of identity (renewal over mTLS). Default: true. */
  acceptClientCertificates?: boolean;
  /** Hooks for logs and metrics. Default: none. */
  callbacks?: CertificateServiceCallbacks;
}

export interface CertificateServiceCallbacks {
  onSigned?(info: { readonly spiffeId: string; readonly peer: string | undefined; readonly notAfter: Date }): void;
  onRefused?(info: { readonly code: number; readonly message: string; readonly peer: string | undefined }): void;
}

/** A refusal: a gRPC status code and its message. */
export interface CertificateServiceError {
  readonly code: number;
  readonly details: string;
}

/** The grpc-js shapes this service needs, so certs does not depend on grpc-js. */
export interface UnaryCallLike {
  readonly request: IstioCertificateRequest | MalformedCertificateRequest;
  readonly metadata: { get(key: string): Array<string | Buffer> };
  getPeer(): string;
  getAuthContext?(): { sslPeerCertificate?: { raw?: Buffer } } | null;
}
export type UnaryCallbackLike = (error: CertificateServiceError | null, value?: IstioCertificateResponse) => void;

/** A request message whose bytes did not decode. */
export class MalformedCertificateRequest {
  constructor(readonly reason: string) {}
}

/** A grpc-js service definition and implementation of IstioCertificateService. */
export interface CertificateService {
  /** For grpc-js `server.addService(definition, implementation)`. */
  readonly definition: {
    readonly CreateCertificate: {
      readonly path: string;
      readonly requestStream: false;
      readonly responseStream: false;
      readonly originalName: string;
      requestSerialize(value: IstioCertificateRequest): Buffer;
      requestDeserialize(bytes: Buffer): IstioCertificateRequest | MalformedCertificateRequest;
      responseSerialize(value: IstioCertificateResponse): Buffer;
      responseDeserialize(bytes: Buffer): IstioCertificateResponse;
    };
  };
  readonly implementation: { CreateCertificate(call: UnaryCallLike, callback: UnaryCallbackLike): void };
  /** The transport-independent handler: a request and the caller's credentials in, a chain or a refusal out. */
  createCertificate(
    request: IstioCertificateRequest,
    credentials: CallerCredentials,
  ): Promise<IstioCertificateResponse>;
}

/** A refusal thrown by {@link CertificateService.createCertificate}. */
export class CertificateServiceRefusal extends XdsKitError {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(statusCodeName(status), message);
  }
}

function statusCodeName(status: number) {
  switch (status) {
    case CertificateServiceStatus.UNAUTHENTICATED:
      return "UNAUTHENTICATED" as const;
    case CertificateServiceStatus.PERMISSION_DENIED:
      return "PERMISSION_DENIED" as const;
    case CertificateServiceStatus.INVALID_ARGUMENT:
      return "INVALID_ARGUMENT" as const;
    default:
      return "INTERNAL" as const;
  }
}

function statusOf(error: unknown): CertificateServiceError {
  if (error instanceof CertificateServiceRefusal) return { code: error.status, details: error.message };
  if (error instanceof XdsKitError) {
    const code =
      error.code === "INVALID_ARGUMENT"
        ? CertificateServiceStatus.INVALID_ARGUMENT
        : error.code === "PERMISSION_DENIED"
          ? CertificateServiceStatus.PERMISSION_DENIED
          : error.code === "UNAUTHENTICATED"
            ? CertificateServiceStatus.UNAUTHENTICATED
            : CertificateServiceStatus.INTERNAL;
    return { code, details: error.message };
  }
  return {
    code: CertificateServiceStatus.INTERNAL,
    details: `internal error: ${(error as Error)?.message ?? String(error)}`,
  };
}

const BEARER = /^Bearer\s+(\S+)\s*$/i;

/** The bearer token of grpc-js metadata, if any. */
function bearerTokenOf(metadata: UnaryCallLike["metadata"]): string | undefined {
  for (const value of metadata.get("authorization")) {
    const match = BEARER.exec(typeof value === "string" ? value : value.toString());
    if (match) return match[1];
  }
  return undefined;
}

/** Builds Istio's certificate service over `options.ca`. */
export function createCertificateService(options: CertificateServiceOptions): CertificateService {
  if (!options || typeof options.ca?.sign !== "function")
    throw new XdsKitError("INVALID_ARGUMENT", "createCertificateService: options.ca must be a CertificateAuthority");
  if (options.verifyToken !== undefined && typeof options.verifyToken !== "function")
    throw new XdsKitError("INVALID_ARGUMENT", "createCertificateService: options.verifyToken must be a function");
  const { ca, verifyToken, callbacks = {} } = options;
  const acceptClientCertificates = options.acceptClientCertificates ?? true;

  const identityOfToken = async (token: string, peer: string | undefined): Promise<string> => {
    if (!verifyToken)
      throw new CertificateServiceRefusal(
        CertificateServiceStatus.UNAUTHENTICATED,
        "bearer tokens are not accepted here (no token verifier is configured)",
      );
    let identity: WorkloadIdentity | string | undefined;
    try {
      identity = await verifyToken({ token, peer });
    } catch (error) {
      throw new CertificateServiceRefusal(
        CertificateServiceStatus.UNAUTHENTICATED,
        `bearer token refused: ${(error as Error)?.message ?? String(error)}`,
      );
    }
    if (identity === undefined)
      throw new CertificateServiceRefusal(CertificateServiceStatus.UNAUTHENTICATED, "bearer token refused");
    if (typeof identity === "string") {
      if (!parseSpiffeId(identity))
        throw new CertificateServiceRefusal(
          CertificateServiceStatus.INTERNAL,
          `the token verifier returned "${identity}", not a SPIFFE id`,
        );
      return identity;
    }
    return spiffeIdOf(identity);
  };

  /** Istio's order: a client certificate first, then a token; the first that proves an identity wins. */
  const authenticate = async (credentials: CallerCredentials): Promise<string> => {
    let certificateProblem: Error | undefined;
    if (credentials.certificate && acceptClientCertificates) {
      try {
        return ca.identityOfCertificate(credentials.certificate);
      } catch (error) {
        certificateProblem = error as Error;
      }
    }
    if (credentials.bearerToken !== undefined) return identityOfToken(credentials.bearerToken, credentials.peer);
    if (certificateProblem)
      throw new CertificateServiceRefusal(CertificateServiceStatus.UNAUTHENTICATED, certificateProblem.message);
    throw new CertificateServiceRefusal(
      CertificateServiceStatus.UNAUTHENTICATED,
      `no credentials: present ${acceptClientCertificates ? "a client certificate issued by this CA or " : ""}an "authorization: Bearer <token>" header`,
    );
  };

  const createCertificate = async (
    request: IstioCertificateRequest,
    credentials: CallerCredentials,
  ): Promise<IstioCertificateResponse> => {
    const spiffeId = await authenticate(credentials);
    const impersonated = request.metadata?.ImpersonatedIdentity;
    if (impersonated !== undefined && impersonated !== spiffeId)
      throw new CertificateServiceRefusal(
        CertificateServiceStatus.PERMISSION_DENIED,
        `${spiffeId} may not ask for a certificate of ${String(impersonated)} (impersonation is not supported)`,
      );
    const signed = await ca.sign(request.csr ?? "", spiffeId, request.validityDuration || undefined);
    callbacks.onSigned?.({ spiffeId, peer: credentials.peer, notAfter: signed.notAfter });
    return { certChain: [...signed.certChain] };
  };

  return {
    definition: {
      CreateCertificate: {
        path: CREATE_CERTIFICATE_PATH,
        requestStream: false,
        responseStream: false,
        originalName: "CreateCertificate",
        requestSerialize: (value) => Buffer.from(IstioCertificateRequest.encode(value).finish()),
        requestDeserialize: (bytes) => {
          try {
            return IstioCertificateRequest.decode(bytes);
          } catch (error) {
            return new MalformedCertificateRequest((error as Error).message);
          }
        },
        responseSerialize: (value) => Buffer.from(IstioCertificateResponse.encode(value).finish()),
        responseDeserialize: (bytes) => IstioCertificateResponse.decode(bytes),
      },
    },
    implementation: {
      CreateCertificate(call, callback) {
        const peer = call.getPeer();
        const refuse = (status: CertificateServiceError) => {
          callbacks.onRefused?.({ code: status.code, message: status.details, peer });
          callback(status);
        };
        if (call.request instanceof MalformedCertificateRequest)
          return refuse({
            code: CertificateServiceStatus.INVALID_ARGUMENT,
            details: `malformed request message: ${call.request.reason}`,
          });
        const raw = call.getAuthContext?.()?.sslPeerCertificate?.raw;
        const bearerToken = bearerTokenOf(call.metadata);
        const credentials: CallerCredentials = {
          peer,
          ...(raw ? { certificate: raw } : {}),
          ...(bearerToken !== undefined ? { bearerToken } : {}),
        };
        createCertificate(call.request, credentials).then(
          (response) => callback(null, response),
          (error: unknown) => refuse(statusOf(error)),
        );
      },
    },
    createCertificate,
  };
}
