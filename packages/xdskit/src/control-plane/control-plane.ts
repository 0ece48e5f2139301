// createControlPlane: the composition root. Config sources → intake (load, validate, keep the last good object)
// → debounce → translator → snapshot cache → ADS server, with metrics, logs and the monitoring port around it.
// Every part can be replaced through the options.

import {
  type CertificateAuthority,
  type CertificateAuthorityOptions,
  type CertificateServiceOptions,
  type CsrWorkerPool,
  createCertificateAuthority,
  createCsrWorkerPool,
  createWorkloadAuthenticator,
  parseSpiffeId,
  type WorkloadCertificate,
} from "@xdskit/certs";
import { createSnapshot, createSnapshotCache, type Node, type SnapshotCache, XdsKitError } from "@xdskit/core";
import { createXdsServer, type XdsServer, type XdsServerOptions } from "@xdskit/server";
import { type ConfigDiagnostic, validateConfig } from "@xdskit/translate";
import type { Subscription } from "rxjs";
import { createLogger, type Logger, type LoggerSetup } from "../monitoring/logger.js";
import { type MonitoringServer, startMonitoringServer } from "../monitoring/monitoring-server.js";
import { cacheConfigDump, type ProxySyncStatus, syncStatusOf } from "../monitoring/sync-status.js";
import { combineCallbacks, createXdsMetrics, type XdsMetrics } from "../monitoring/xds-metrics.js";
import type { ConfigSource } from "../sources/config-source.js";
import {
  type CredentialFiles,
  checkCredentialFiles,
  createCredentialFileSource,
} from "../sources/credential-file-source.js";
import { createFileSource } from "../sources/file-source.js";
import { createMemorySource, type ObjectRef } from "../sources/memory-source.js";
import { type ConfigValidator, createConfigIntake } from "./config-intake.js";
import { createGatewayCredentials, credentialDiagnostics, isSecret, mayReadCredential } from "./gateway-credentials.js";
import { createIstioTranslator } from "./istio-translator.js";
import type { MeshTranslator } from "./mesh-translator.js";
import { type SecureXds, startSecureXds } from "./secure-xds.js";
import {
  createWorkloadCertificates,
  isLoopbackHost,
  type WorkloadCertificates,
  type WorkloadCertificatesOptions,
} from "./workload-certificates.js";

export interface ControlPlaneOptions {
  /** Where config comes from. Default: nothing but what `apply()` adds. */
  readonly config?: {
    /** A YAML/JSON file or a directory, watched for changes. */
    readonly path?: string;
    /** Objects to start with (as `apply()` would add them). */
    readonly objects?: readonly unknown[];
    /** More sources (your own: Kubernetes, etcd...). */
    readonly sources?: readonly ConfigSource[];
    /** Quiet time after a change before translating. Default: 100 ms (istiod's PILOT_DEBOUNCE_AFTER). */
    readonly debounceMs?: number;
    /** Longest a change waits while more keep coming. Default: 10000 ms (istiod's PILOT_DEBOUNCE_MAX). */
    readonly maxDebounceMs?: number;
  };
  /**
   * Gateway credentials from PEM files, served like kubernetes.io/tls Secrets of the config (`kubernetes://<name>`
   * to gateway proxies of `namespace`); the files are watched and a change rotates them in Envoy.
   */
  readonly credentials?: readonly CredentialFiles[];
  /** Config → xDS per proxy. Default: Istio's translation (`createIstioTranslator()`). */
  readonly translator?: MeshTranslator;
  /**
   * Checks objects before they are served; objects with errors are rejected. Default: Istio's validation
   * (`validateConfig`: schema, CEL rules and the webhook's semantic checks); false: loading only.
   */
  readonly validate?: ConfigValidator | false;
  /** Default: a new snapshot cache keyed by node id. */
  readonly cache?: SnapshotCache;
  /** Plaintext xDS (istiod's 15010). */
  readonly xds?: {
    /** Default: "127.0.0.1"; "0.0.0.0" to serve other machines. */
    readonly host?: string;
    /** Default: 15010; 0 = pick one. */
    readonly port?: number;
    /** More server options (callbacks are combined with the control plane's own). */
    readonly server?: Omit<XdsServerOptions, "cache">;
  };
  /**
   * The certificate authority (Istio's Citadel): one you made, options for a new one (`{ dir }` keeps its root on
   * disk), or false for none. Default: a new self-signed root in memory, trust domain cluster.local.
   */
  readonly ca?: CertificateAuthority | CertificateAuthorityOptions | false;
  /**
   * xDS over TLS plus Istio's CreateCertificate (istiod's 15012), served with a certificate of the CA for
   * spiffe://<trust domain>/ns/istio-system/sa/istiod; false for none. Needs the CA.
   */
  readonly xdsTls?:
    | {
        /** Default: the xds host. */
        readonly host?: string;
        /** Default: 15012; 0 = pick one. */
        readonly port?: number;
        /** Who a bearer token proves to be (CreateCertificate); default: tokens refused, only renewals over mTLS. */
        readonly verifyToken?: CertificateServiceOptions["verifyToken"];
        /**
         * Worker threads that read CreateCertificate's CSRs (parse, key import, signature check) off the thread
         * that runs gRPC and TLS (`createCsrWorkerPool`, made and closed here); 0 reads them on that thread.
         * Needs `ca` to be options (a ready CA takes its own `csrReader`). Default: 0.
         */
        readonly csrWorkers?: number;
      }
    | false;
  /**
   * Workload certificates for connected proxies, as SDS secrets `default` and `ROOTCA` in each proxy's snapshot
   * (docs/control-plane.md, "Workload certificates"); false for none. Default: on when there is a CA.
   */
  readonly workloadCertificates?: WorkloadCertificatesOptions | false;
  /** The HTTP monitoring port (istiod's 15014), or false for none. Default: 127.0.0.1:15014. */
  readonly monitoring?: { readonly host?: string; readonly port?: number } | false;
  /** A pino logger, or how to make one. Default: info level to stdout. */
  readonly logger?: Logger | LoggerSetup;
  /** Default: createXdsMetrics(). */
  readonly metrics?: XdsMetrics;
}

export interface ControlPlaneStatus {
  /** Increases with every translation pushed. */
  readonly pushes: number;
  readonly objects: number;
  readonly diagnostics: readonly ConfigDiagnostic[];
  readonly proxies: readonly ProxySyncStatus[];
}

export interface ControlPlane {
  /** "127.0.0.1:15010": what proxies' bootstraps point at. */
  readonly xdsAddress: string;
  readonly ports: { readonly xds: number; readonly xdsTls?: number; readonly monitoring?: number };
  readonly cache: SnapshotCache;
  readonly server: XdsServer;
  readonly metrics: XdsMetrics;
  readonly logger: Logger;
  readonly monitoring?: MonitoringServer;
  /**
   * The CA, unless `ca: false`. Its root rotation steps (stageRoot, activateStagedRoot, retirePreviousRoots) called
   * here also re-issue every proxy's certificate and the 15012 serving certificate before they resolve.
   */
  readonly ca?: CertificateAuthority;
  /** The workload certificate a proxy (node id, or cache key) is served now, without its key. */
  workloadCertificate(proxy: string): WorkloadCertificate | undefined;
  /** Adds or replaces objects (by kind, namespace, name); pushed after the debounce. Returns their ids. */
  apply(objects: readonly unknown[] | unknown): string[];
  /** Removes objects applied with `apply` (by object, { kind, namespace, name } or id). */
  delete(refs: readonly (ObjectRef | string)[] | ObjectRef | string): string[];
  status(): ControlPlaneStatus;
  /** Resolves once every change taken so far is translated and in the cache. */
  settled(): Promise<void>;
  /** Stops watching, drains the xDS streams and closes every port it opened. */
  close(): Promise<void>;
}

function portOption(where: string, value: number | undefined, fallback: number): number {
  const port = value ?? fallback;
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new XdsKitError("INVALID_ARGUMENT", `createControlPlane: ${where} must be 0..65535, got ${value}`);
  return port;
}

const isLogger = (value: unknown): value is Logger =>
  typeof value === "object" && value !== null && typeof (value as Logger).info === "function";

export async function createControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  if (options === null || typeof options !== "object")
    throw new XdsKitError("INVALID_ARGUMENT", "createControlPlane: options must be an object");
  const logger = isLogger(options.logger) ? options.logger : createLogger(options.logger ?? {});
  const translator =
    options.translator ??
    createIstioTranslator({
      onUnknownProxy: (node, error) => logger.warn({ proxy: node.id, error: error.message }, "proxy not in the mesh"),
    });
  if (typeof translator.update !== "function" || typeof translator.resourcesFor !== "function")
    throw new XdsKitError(
      "INVALID_ARGUMENT",
      "createControlPlane: options.translator must have update() and resourcesFor()",
    );
  const debounceMs = options.config?.debounceMs ?? 100;
  const maxDebounceMs = options.config?.maxDebounceMs ?? 10_000;
  if (!(debounceMs >= 0) || !(maxDebounceMs >= debounceMs))
    throw new XdsKitError(
      "INVALID_ARGUMENT",
      "createControlPlane: config.debounceMs must be >= 0 and <= maxDebounceMs",
    );
  const xdsHost = options.xds?.host ?? "127.0.0.1";
  const xdsPort = portOption("xds.port", options.xds?.port, 15010);
  const monitoringOption = options.monitoring === false ? undefined : (options.monitoring ?? {});
  const monitoringPort = monitoringOption ? portOption("monitoring.port", monitoringOption.port, 15014) : undefined;
  const tlsOption = options.ca === false || options.xdsTls === false ? undefined : (options.xdsTls ?? {});
  const tlsPort = tlsOption ? portOption("xdsTls.port", tlsOption.port, 15012) : undefined;
  const csrWorkers = tlsOption?.csrWorkers ?? 0;
  if (typeof csrWorkers !== "number" || !Number.isInteger(csrWorkers) || csrWorkers < 0 || csrWorkers > 64)
    throw new XdsKitError(
      "INVALID_ARGUMENT",
      `createControlPlane: xdsTls.csrWorkers must be a whole number from 0 to 64, got ${String(csrWorkers)}`,
    );
  const readyCa = typeof (options.ca as CertificateAuthority | undefined)?.issue === "function";
  if (csrWorkers > 0 && readyCa)
    throw new XdsKitError(
      "INVALID_ARGUMENT",
      "createControlPlane: xdsTls.csrWorkers needs ca to be options, not a ready CA (give that CA csrReader: createCsrWorkerPool() yourself)",
    );
  const csrPool: CsrWorkerPool | undefined = csrWorkers > 0 ? createCsrWorkerPool({ workers: csrWorkers }) : undefined;
  let ca: CertificateAuthority | undefined;
  try {
    ca =
      options.ca === false
        ? undefined
        : readyCa
          ? (options.ca as CertificateAuthority)
          : await createCertificateAuthority({
              ...((options.ca as CertificateAuthorityOptions | undefined) ?? {}),
              ...(csrPool ? { csrReader: csrPool } : {}),
            });
  } catch (error) {
    await csrPool?.close();
    throw error;
  }

  if (options.workloadCertificates !== undefined && options.workloadCertificates !== false) {
    if (typeof options.workloadCertificates !== "object" || options.workloadCertificates === null)
      throw new XdsKitError("INVALID_ARGUMENT", "createControlPlane: workloadCertificates must be an object or false");
  }

  const credentialFiles = options.credentials === undefined ? [] : checkCredentialFiles(options.credentials);

  const metrics = options.metrics ?? createXdsMetrics();
  const cache = options.cache ?? createSnapshotCache();
  // Secrets are gateway credentials: checked here (a bad one keeps its last good version), never translated.
  const meshValidate = options.validate === false ? undefined : (options.validate ?? validateConfig);
  const intake = createConfigIntake((objects) => {
    const mesh = objects.some(isSecret) ? objects.filter((o) => !isSecret(o)) : objects;
    return [...(meshValidate && mesh.length > 0 ? meshValidate(mesh) : []), ...credentialDiagnostics(objects)];
  });
  const memory = createMemorySource(options.config?.objects ?? []);
  const sources: ConfigSource[] = [
    ...(options.config?.path ? [createFileSource({ path: options.config.path, debounceMs })] : []),
    memory,
    ...(credentialFiles.length > 0 ? [createCredentialFileSource(credentialFiles, debounceMs)] : []),
    ...(options.config?.sources ?? []),
  ];
  const gatewayCredentials = createGatewayCredentials();

  // Proxies by cache key: the node to translate for, and how many streams it has open.
  const proxies = new Map<string, { node: Node; streams: Set<number> }>();
  const noConfigWarning = (node: Node) =>
    logger.warn({ proxy: node.id }, "proxy connected but the mesh has no config for it (no matching workload?)");
  const certificates: WorkloadCertificates | undefined =
    ca && options.workloadCertificates !== false
      ? createWorkloadCertificates({
          ca,
          options: options.workloadCertificates ?? {},
          plaintextDefault: isLoopbackHost(xdsHost),
          logger,
          mayReadCredential,
          // A proxy's first snapshot waits for its certificate (milliseconds), so Envoy's first config is complete.
          onChange: (key) => {
            const proxy = proxies.get(key);
            if (proxy && !snapshotFor(key, proxy.node) && !cache.getSnapshot(key)) noConfigWarning(proxy.node);
          },
        })
      : undefined;
  let translatorDiagnostics: readonly ConfigDiagnostic[] = [];
  let warnedNoCredentials = false;
  /** Gateway proxies read credentials of their own namespace (Istio's rule); only with the Secret authorization. */
  const gatewayNamespaceOf = (node: Node): string | undefined => {
    if (!certificates || !node.id?.startsWith("router~")) return undefined;
    const identity = certificates.identityOf(node);
    return identity ? parseSpiffeId(identity)?.namespace : undefined;
  };
  let pushes = 0;
  let closed = false;

  const snapshotFor = (key: string, node: Node): boolean => {
    const translated = translator.resourcesFor(node);
    if (!translated) return false;
    const credentialNamespace = gatewayNamespaceOf(node);
    const secrets = [
      ...(certificates?.secretsFor(key) ?? []),
      ...(credentialNamespace !== undefined ? gatewayCredentials.secretsIn(credentialNamespace) : []),
    ];
    const resources =
      secrets.length > 0 ? { ...translated, Secret: [...(translated.Secret ?? []), ...secrets] } : translated;
    const previous = cache.getSnapshot(key);
    const snapshot = createSnapshot({ resources });
    if (previous?.version === snapshot.version) return false;
    cache.setSnapshot(key, snapshot);
    return true;
  };

  // Debounce: translate once the config has been quiet for debounceMs, or maxDebounceMs after the first change.
  let timer: NodeJS.Timeout | undefined;
  let firstPendingAt: number | undefined;
  let waiters: (() => void)[] = [];
  const push = () => {
    timer = undefined;
    firstPendingAt = undefined;
    const done = waiters;
    waiters = [];
    try {
      const objects = intake.objects();
      const secrets = objects.filter(isSecret);
      translatorDiagnostics =
        translator.update(secrets.length > 0 ? objects.filter((o) => !isSecret(o)) : objects) ?? [];
      const credentialNamespaces = gatewayCredentials.update(secrets);
      if (credentialNamespaces.size > 0 && !certificates && !warnedNoCredentials) {
        warnedNoCredentials = true;
        logger.warn(
          "gateway credentials are not served: they need the Secret authorization that comes with workload certificates (a CA and workloadCertificates not false)",
        );
      }
      metrics.pushStarted();
      // An incremental translator names the proxies whose resources changed: the others' snapshots stay as they are.
      const affected = translator.changedProxies?.();
      const readsChangedCredentials = (node: Node) => {
        const namespace = gatewayNamespaceOf(node);
        return namespace !== undefined && credentialNamespaces.has(namespace);
      };
      const changed: string[] = [];
      for (const [key, proxy] of proxies)
        if (
          (!affected || affected.has(proxy.node.id ?? "") || readsChangedCredentials(proxy.node)) &&
          snapshotFor(key, proxy.node)
        )
          changed.push(key);
      pushes++;
      logger.info({ push: pushes, objects: objects.length, proxies: changed }, `pushed to ${changed.length} proxies`);
    } catch (error) {
      logger.error({ err: error }, "translation failed; proxies keep their config");
    }
    for (const resolve of done) resolve();
  };
  const schedule = () => {
    if (closed) return;
    const now = Date.now();
    firstPendingAt ??= now;
    if (timer) clearTimeout(timer);
    timer = setTimeout(push, Math.max(0, Math.min(debounceMs, firstPendingAt + maxDebounceMs - now)));
  };

  const ownCallbacks = {
    onRequest(info: { streamId: number; request: { node?: Node } }) {
      const node = info.request.node;
      if (!node?.id) return;
      const key = cache.keyOf(node);
      let proxy = proxies.get(key);
      if (!proxy) {
        proxy = { node, streams: new Set() };
        proxies.set(key, proxy);
        if (certificates?.identityOf(node)) certificates.track(key, node);
        else if (!cache.getSnapshot(key) && !snapshotFor(key, node)) noConfigWarning(node);
        logger.info({ proxy: node.id }, "proxy connected");
      }
      proxy.streams.add(info.streamId);
    },
    onStreamClose(info: { streamId: number; node?: Node }) {
      if (!info.node?.id) return;
      const key = cache.keyOf(info.node);
      const proxy = proxies.get(key);
      if (!proxy?.streams.delete(info.streamId) || proxy.streams.size > 0) return;
      proxies.delete(key);
      certificates?.untrack(key);
      cache.clearSnapshot(key);
      translator.disconnect?.(proxy.node);
      logger.info({ proxy: info.node.id }, "proxy disconnected");
    },
    onAck(info: { node: Node; typeUrl: string; version: string }) {
      logger.debug({ proxy: info.node.id, typeUrl: info.typeUrl, version: info.version }, "ACK");
    },
    onNack(info: { node: Node; typeUrl: string; version: string; errorMessage: string }) {
      logger.warn(
        { proxy: info.node.id, typeUrl: info.typeUrl, version: info.version, error: info.errorMessage },
        "NACK",
      );
    },
  };
  const callbacks = combineCallbacks(metrics.callbacks, ownCallbacks, options.xds?.server?.callbacks);
  // A refused subscription ends the proxy's stream; say why here too, not only in the proxy's log.
  const logged =
    (port: string, authorize: Authorize): Authorize =>
    async (request) => {
      const verdict = await authorize(request);
      if (verdict !== true)
        logger.warn(
          { proxy: request.node.id, port, typeUrl: request.typeUrl, names: request.names, reason: verdict },
          "subscription refused",
        );
      return verdict;
    };
  const server = createXdsServer({
    ...options.xds?.server,
    cache,
    callbacks,
    ...(certificates
      ? {
          authorize: logged("xds", bothAuthorize(certificates.authorizePlaintext, options.xds?.server?.authorize)),
        }
      : {}),
  });
  let tlsServer: XdsServer | undefined;
  let secure: SecureXds | undefined;

  // Sources: the first change of each is its full state; the control plane is ready once all have given it.
  const subscriptions: Subscription[] = [];
  let initialPending = sources.length;
  let readyResolve!: () => void;
  let readyReject!: (error: Error) => void;
  const initial = new Promise<void>((resolve, reject) => {
    readyResolve = resolve;
    readyReject = reject;
  });
  for (const source of sources) {
    let first = true;
    subscriptions.push(
      source.changes.subscribe({
        next(change) {
          const result = intake.take(source.name, change);
          for (const r of result.rejected) {
            metrics.configRejected();
            logger.warn(
              { source: source.name, object: r.key, diagnostics: r.diagnostics.map((d) => d.message) },
              "config rejected; the last good version keeps being served",
            );
          }
          if (result.changed)
            logger.info(
              { source: source.name, upserted: change.upserted.map((d) => d.id), removed: change.removed },
              "config changed",
            );
          if (first) {
            first = false;
            if (--initialPending === 0) readyResolve();
          }
          if (result.changed) schedule();
        },
        error(error: Error) {
          logger.error({ source: source.name, err: error }, "config source failed");
          if (first) readyReject(error);
        },
      }),
    );
  }

  let monitoring: MonitoringServer | undefined;
  let boundXds: number;
  let boundTls: number | undefined;
  try {
    await initial;
    push(); // the first translation happens at once
    const hostPort = (host: string, port: number) => `${host.includes(":") ? `[${host}]` : host}:${port}`;
    boundXds = await server.listen(hostPort(xdsHost, xdsPort));
    if (ca && tlsOption) {
      const { credentials: _ignored, ...serverOptions } = options.xds?.server ?? {};
      secure = await startSecureXds({
        ca,
        cache,
        callbacks,
        address: hostPort(tlsOption.host ?? xdsHost, tlsPort as number),
        ...(tlsOption.verifyToken ? { verifyToken: tlsOption.verifyToken } : {}),
        serverOptions: certificates
          ? {
              ...serverOptions,
              // A client certificate of this CA says who the stream is; the Secret rule holds the node to it.
              authenticate: serverOptions.authenticate ?? createWorkloadAuthenticator(ca),
              authorize: logged("xdsTls", bothAuthorize(certificates.authorizeSecure, serverOptions.authorize)),
            }
          : serverOptions,
        onSigned: (spiffeId, peer) => {
          metrics.csrSigned();
          logger.info({ identity: spiffeId, peer }, "certificate signed");
        },
        onRefused: (message, peer) => logger.warn({ peer, error: message }, "certificate refused"),
        onRenewalFailed: (error) => logger.error({ err: error }, "the 15012 serving certificate was not renewed"),
      });
      tlsServer = secure.server;
      boundTls = secure.port;
    }
    if (monitoringOption)
      monitoring = await startMonitoringServer({
        ...(monitoringOption.host ? { host: monitoringOption.host } : {}),
        port: monitoringPort as number,
        registry: metrics.registry,
        tracker: cache.tracker,
        configDump: (proxy) => cacheConfigDump(cache, proxy),
        diagnostics: () => [...intake.diagnostics(), ...translatorDiagnostics],
        ready: () => (closed ? { ready: false, reason: "shutting down" } : { ready: true }),
      });
  } catch (error) {
    certificates?.close();
    secure?.stop();
    for (const s of subscriptions) s.unsubscribe();
    await server.close({ graceMs: 0 }).catch(() => {});
    await tlsServer?.close({ graceMs: 0 }).catch(() => {});
    await csrPool?.close();
    throw error;
  }
  const xdsAddress = `${xdsHost}:${boundXds}`;
  // A root rotation step changes the bundle (and the signer): every proxy and 15012 get new certificates at once.
  const afterRootChange = async () => {
    await certificates?.reissueAll();
    await secure?.refresh();
  };
  const proxyKey = (nodeId: string) => {
    for (const [key, proxy] of proxies) if (proxy.node.id === nodeId) return key;
    return nodeId;
  };
  logger.info({ xds: xdsAddress, xdsTls: boundTls, monitoring: monitoring?.url }, "control plane serving");

  return {
    xdsAddress,
    ports: {
      xds: boundXds,
      ...(boundTls !== undefined ? { xdsTls: boundTls } : {}),
      ...(monitoring ? { monitoring: monitoring.port } : {}),
    },
    ...(ca ? { ca: followRootRotation(ca, afterRootChange) } : {}),
    workloadCertificate(proxy) {
      const certificate = certificates?.certificateOf(proxy) ?? certificates?.certificateOf(proxyKey(proxy));
      if (!certificate) return undefined;
      const { privateKey: _private, ...withoutKey } = certificate;
      return withoutKey;
    },
    cache,
    server,
    metrics,
    logger,
    ...(monitoring ? { monitoring } : {}),
    apply: (objects) => memory.apply(objects),
    delete: (refs) => memory.delete(refs),
    status: () => ({
      pushes,
      objects: intake.objects().length,
      diagnostics: [...intake.diagnostics(), ...translatorDiagnostics],
      proxies: syncStatusOf(cache.tracker),
    }),
    settled: () => (timer === undefined ? Promise.resolve() : new Promise<void>((resolve) => waiters.push(resolve))),
    async close() {
      if (closed) return;
      closed = true;
      if (timer) clearTimeout(timer);
      for (const resolve of waiters.splice(0)) resolve();
      for (const s of subscriptions) s.unsubscribe();
      certificates?.close();
      secure?.stop();
      await Promise.all([server.close({ graceMs: 2000 }), tlsServer?.close({ graceMs: 2000 })]);
      await csrPool?.close();
      await monitoring?.close();
      logger.info("control plane closed");
    },
  };
}

type Authorize = NonNullable<XdsServerOptions["authorize"]>;

/** Our rule first (its reason wins), then the user's own `authorize`, if any. */
function bothAuthorize(ours: Authorize, theirs: Authorize | undefined): Authorize {
  if (!theirs) return ours;
  return async (request) => {
    const verdict = await ours(request);
    return verdict === true ? theirs(request) : verdict;
  };
}

const ROOT_ROTATION_STEPS = new Set<PropertyKey>(["stageRoot", "activateStagedRoot", "retirePreviousRoots"]);

/** The CA as callers see it: each root rotation step resolves once `after` (re-issuing) is done. */
function followRootRotation(ca: CertificateAuthority, after: () => Promise<void>): CertificateAuthority {
  return new Proxy(ca, {
    get(target, property) {
      const value = Reflect.get(target, property, target);
      if (typeof value !== "function") return value;
      if (!ROOT_ROTATION_STEPS.has(property)) return value.bind(target);
      return async () => {
        await value.call(target);
        await after();
      };
    },
  });
}
