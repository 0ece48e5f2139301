// Proxyless gRPC: a workload's certificate, key and trust bundle as files in the layout gRPC's
// file_watcher certificate provider reads, the bootstrap section pointing at them, and their rotation.

import { chmod, mkdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { XdsKitError } from "@xdskit/core";
import type { CertificateAuthority, IssuedCertificate, IssueRequest } from "./authority.js";
import { nextRotationTime, type RotationOptions } from "./rotation.js";

/** File names in a workload's certificate directory (istio-agent's names for proxyless gRPC). */
export const WORKLOAD_FILES = {
  certificateChain: "cert-chain.pem",
  privateKey: "key.pem",
  rootCertificates: "root-cert.pem",
} as const;

/** Paths of a workload's certificate files. */
export interface WorkloadFilePaths {
  readonly certificateChain: string;
  readonly privateKey: string;
  readonly rootCertificates: string;
}

export function workloadFilePaths(dir: string): WorkloadFilePaths {
  return {
    certificateChain: join(dir, WORKLOAD_FILES.certificateChain),
    privateKey: join(dir, WORKLOAD_FILES.privateKey),
    rootCertificates: join(dir, WORKLOAD_FILES.rootCertificates),
  };
}

async function replaceFile(path: string, text: string, mode: number): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, text, { mode });
  await chmod(temporary, mode);
  await rename(temporary, path);
}

/**
 * Writes `certificate` into `dir`: cert-chain.pem (the workload certificate and intermediates), key.pem
 * (mode 0600) and root-cert.pem (the whole trust bundle). Each file is replaced by rename, so a reader
 * sees the old or the new file, never half; the key goes first so a new chain never meets an old key
 * for long (gRPC's watcher reads all three on each refresh).
 */
export async function writeWorkloadFiles(
  dir: string,
  certificate: Pick<IssuedCertificate, "certChain" | "privateKey" | "trustBundle">,
): Promise<WorkloadFilePaths> {
  if (typeof dir !== "string" || dir.length === 0)
    throw new XdsKitError("INVALID_ARGUMENT", "writeWorkloadFiles: dir must be a directory path");
  const paths = workloadFilePaths(dir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const chain = certificate.certChain.length > 1 ? certificate.certChain.slice(0, -1) : certificate.certChain;
  await replaceFile(paths.privateKey, certificate.privateKey, 0o600);
  await replaceFile(paths.certificateChain, chain.join(""), 0o644);
  await replaceFile(paths.rootCertificates, certificate.trustBundle.join(""), 0o644);
  return paths;
}

/** Options of {@link certificateProvidersBootstrap}. */
export interface CertificateProvidersOptions {
  /** Name of the provider instance that xDS security config refers to. Default: "default" (Istio's). */
  instanceName?: string;
  /** How often gRPC re-reads the files, seconds. Default: 600. */
  refreshIntervalSeconds?: number;
}

/**
 * The `certificate_providers` section of a gRPC xDS bootstrap for files in `dir`: gRPC's file_watcher
 * plugin reading cert-chain.pem, key.pem and root-cert.pem.
 */
export function certificateProvidersBootstrap(
  dir: string,
  options: CertificateProvidersOptions = {},
): { certificate_providers: Record<string, { plugin_name: "file_watcher"; config: Record<string, string> }> } {
  const refresh = options.refreshIntervalSeconds ?? 600;
  if (!Number.isInteger(refresh) || refresh <= 0)
    throw new XdsKitError("INVALID_ARGUMENT", `refreshIntervalSeconds must be a positive whole number, got ${refresh}`);
  const paths = workloadFilePaths(dir);
  return {
    certificate_providers: {
      [options.instanceName ?? "default"]: {
        plugin_name: "file_watcher",
        config: {
          certificate_file: paths.certificateChain,
          private_key_file: paths.privateKey,
          ca_certificate_file: paths.rootCertificates,
          refresh_interval: `${refresh}s`,
        },
      },
    },
  };
}

/** Options of {@link grpcXdsBootstrap}. */
export interface GrpcXdsBootstrapOptions extends CertificateProvidersOptions {
  /** The xDS server, "host:port". Required. */
  serverUri: string;
  /** The node id; Istio's proxyless form is `sidecar~<ip>~<pod>.<namespace>~<namespace>.svc.cluster.local`. Required. */
  nodeId: string;
  /** Node metadata (Istio reads NAMESPACE, SERVICE_ACCOUNT, LABELS...). Default: none. */
  metadata?: Record<string, unknown>;
  /** Where the certificate files are. Required. */
  certificateDir: string;
}

/**
 * A whole gRPC xDS bootstrap (GRPC_XDS_BOOTSTRAP) for a proxyless workload: the xDS server (plaintext
 * channel, xds_v3), the node, the certificate files, and Istio's inbound listener name template.
 */
export function grpcXdsBootstrap(options: GrpcXdsBootstrapOptions): Record<string, unknown> {
  if (!options?.serverUri || !options.nodeId || !options.certificateDir)
    throw new XdsKitError("INVALID_ARGUMENT", "grpcXdsBootstrap: serverUri, nodeId and certificateDir are required");
  return {
    xds_servers: [
      { server_uri: options.serverUri, channel_creds: [{ type: "insecure" }], server_features: ["xds_v3"] },
    ],
    node: { id: options.nodeId, ...(options.metadata ? { metadata: options.metadata } : {}), locality: {} },
    ...certificateProvidersBootstrap(options.certificateDir, options),
    server_listener_resource_name_template: "xds.istio.io/grpc/lds/inbound/%s",
  };
}

/** Options of {@link createWorkloadFileRotation}. */
export interface WorkloadFileRotationOptions {
  ca: CertificateAuthority;
  /** Whose certificate: namespace, service account, TTL, key type. */
  identity: IssueRequest;
  /** Where the files go. */
  dir: string;
  /** When to rotate. Default: half the lifetime ± 1%. */
  rotation?: RotationOptions;
  /** Called after each write (the first included), and with the error when issuing or writing fails. */
  onRotated?: (certificate: IssuedCertificate) => void;
  onError?: (error: Error) => void;
}

/** A running file rotation: see {@link createWorkloadFileRotation}. */
export interface WorkloadFileRotation {
  /** Resolves once the first files are written. */
  readonly ready: Promise<WorkloadFilePaths>;
  /** The certificate now in the files. */
  readonly current: IssuedCertificate | undefined;
  /** When the next rotation is due. */
  readonly nextRotation: Date | undefined;
  /** Issues and writes now (e.g. after a root rotation, to pick up the new bundle), and reschedules. */
  rotateNow(): Promise<IssuedCertificate>;
  /** Stops the timer; the files stay. */
  stop(): void;
}

/**
 * Keeps a workload's certificate files fresh: issues and writes them now, then again at each rotation
 * time (a timer, unref'd so it does not hold the process open). gRPC's file watcher picks the new files
 * up on its next refresh.
 */
export function createWorkloadFileRotation(options: WorkloadFileRotationOptions): WorkloadFileRotation {
  if (!options?.ca || !options.identity || !options.dir)
    throw new XdsKitError("INVALID_ARGUMENT", "createWorkloadFileRotation: ca, identity and dir are required");
  let current: IssuedCertificate | undefined;
  let nextRotation: Date | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const schedule = () => {
    if (stopped || !current) return;
    nextRotation = nextRotationTime(current, options.rotation);
    // setTimeout takes at most 2^31-1 ms (~24.8 days); a longer wait re-arms on the way.
    const delay = Math.min(Math.max(nextRotation.getTime() - Date.now(), 0), 2 ** 31 - 1);
    timer = setTimeout(() => {
      if (nextRotation && Date.now() < nextRotation.getTime()) return schedule();
      rotateNow().catch((error: unknown) => options.onError?.(error as Error));
    }, delay);
    timer.unref();
  };

  const rotateNow = async () => {
    if (timer) clearTimeout(timer);
    const certificate = await options.ca.issue(options.identity);
    await writeWorkloadFiles(options.dir, certificate);
    current = certificate;
    options.onRotated?.(certificate);
    schedule();
    return certificate;
  };

  const ready = rotateNow().then(() => workloadFilePaths(options.dir));
  ready.catch((error: unknown) => options.onError?.(error as Error));
  return {
    ready,
    get current() {
      return current;
    },
    get nextRotation() {
      return nextRotation;
    },
    rotateNow,
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
