// Prometheus metrics of a control plane, under istiod's metric names where istiod has one, so existing dashboards
// and alerts read them: connected proxies, pushes by type, push and convergence latency, NACKs, rejected
// configs, certificates signed.
import type { AckInfo, NackInfo, ResponseInfo, StreamInfo, XdsServerCallbacks } from "@xdskit/server";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { shortTypeName } from "./type-names.js";

export interface XdsMetricsOptions {
  /** Registry to register on. Default: a new one. */
  readonly registry?: Registry;
  /** Also export Node's process metrics (CPU, memory, event loop). Default: true. */
  readonly processMetrics?: boolean;
  /** Clock in milliseconds. Default: performance.now. */
  readonly now?: () => number;
}

export interface XdsMetrics {
  readonly registry: Registry;
  /** Server callbacks that feed the metrics; combine with your own via {@link combineCallbacks}. */
  readonly callbacks: XdsServerCallbacks;
  /**
   * A config change is about to be pushed: responses sent after this to streams open now are observed in
   * `pilot_xds_push_time`, and their ACKs in `pilot_proxy_convergence_time`.
   */
  pushStarted(): void;
  /** A config change was rejected (its diagnostics had errors). */
  configRejected(count?: number): void;
  /** The CA signed a certificate. */
  csrSigned(): void;
  /** Proxies (distinct node ids) with an open stream. */
  connectedProxies(): number;
}

const LATENCY_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export function createXdsMetrics(options: XdsMetricsOptions = {}): XdsMetrics {
  const registry = options.registry ?? new Registry();
  const now = options.now ?? (() => performance.now());
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const streamsByNode = new Map<string, number>();
  const nodeOfStream = new Map<number, string>();
  new Gauge({
    name: "pilot_xds",
    help: "Proxies (distinct node ids) connected over xDS.",
    registers,
    collect() {
      this.set(streamsByNode.size);
    },
  });
  const pushes = new Counter({
    name: "pilot_xds_pushes",
    help: "xDS responses sent, by type (CDS, LDS, RDS, EDS, SDS...).",
    labelNames: ["type"],
    registers,
  });
  const pushTime = new Histogram({
    name: "pilot_xds_push_time",
    help: "Seconds from a config change to its response being sent to a proxy, by type.",
    labelNames: ["type"],
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const convergence = new Histogram({
    name: "pilot_proxy_convergence_time",
    help: "Seconds from a config change to a proxy ACKing it.",
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const rejects = new Counter({
    name: "pilot_total_xds_rejects",
    help: "xDS responses proxies rejected (NACKs), by type.",
    labelNames: ["type"],
    registers,
  });
  const rejectedConfigs = new Counter({
    name: "pilot_total_rejected_configs",
    help: "Config changes rejected because they had errors (the last good config kept being served).",
    registers,
  });
  const certs = new Counter({
    name: "citadel_server_success_cert_issuance_count",
    help: "Certificates the CA signed.",
    registers,
  });

  // The push being measured: when it started, the streams open then, and per stream+type the nonce it sent.
  let pushAt: number | undefined;
  let openAtPush = new Set<number>();
  let sentInPush = new Map<string, string>();

  const nodeSeen = (streamId: number, nodeId: string) => {
    if (nodeOfStream.has(streamId)) return;
    nodeOfStream.set(streamId, nodeId);
    streamsByNode.set(nodeId, (streamsByNode.get(nodeId) ?? 0) + 1);
  };

  const callbacks: XdsServerCallbacks = {
    onRequest(info) {
      const node = info.request.node;
      if (node?.id !== undefined) nodeSeen(info.streamId, node.id);
    },
    onStreamClose(info: StreamInfo) {
      const nodeId = nodeOfStream.get(info.streamId);
      nodeOfStream.delete(info.streamId);
      openAtPush.delete(info.streamId);
      if (nodeId === undefined) return;
      const left = (streamsByNode.get(nodeId) ?? 1) - 1;
      if (left > 0) streamsByNode.set(nodeId, left);
      else streamsByNode.delete(nodeId);
    },
    onResponse(info: ResponseInfo) {
      if (info.node.id !== undefined) nodeSeen(info.streamId, info.node.id);
      const type = shortTypeName(info.typeUrl);
      pushes.inc({ type });
      const key = `${info.streamId}|${info.typeUrl}`;
      if (pushAt !== undefined && openAtPush.has(info.streamId) && !sentInPush.has(key)) {
        pushTime.observe({ type }, (now() - pushAt) / 1000);
        sentInPush.set(key, info.nonce);
      }
    },
    onAck(info: AckInfo) {
      const key = `${info.streamId}|${info.typeUrl}`;
      if (pushAt !== undefined && sentInPush.get(key) === info.nonce) {
        convergence.observe((now() - pushAt) / 1000);
        sentInPush.set(key, "");
      }
    },
    onNack(info: NackInfo) {
      rejects.inc({ type: shortTypeName(info.typeUrl) });
    },
  };

  return {
    registry,
    callbacks,
    pushStarted() {
      pushAt = now();
      openAtPush = new Set(nodeOfStream.keys());
      sentInPush = new Map();
    },
    configRejected(count = 1) {
      rejectedConfigs.inc(count);
    },
    csrSigned() {
      certs.inc();
    },
    connectedProxies: () => streamsByNode.size,
  };
}

/** One set of server callbacks that calls each given set in order (sync ones; async ones are awaited in turn). */
export function combineCallbacks(...sets: readonly (XdsServerCallbacks | undefined)[]): XdsServerCallbacks {
  const list = sets.filter((s): s is XdsServerCallbacks => s !== undefined);
  const names = ["onStreamOpen", "onStreamClose", "onRequest", "onResponse", "onAck", "onNack"] as const;
  const combined: Record<string, (info: never) => unknown> = {};
  for (const name of names) {
    const hooks = list.map((s) => s[name]).filter((h) => h !== undefined) as ((info: never) => unknown)[];
    if (hooks.length === 0) continue;
    combined[name] = (info: never) => {
      let pending: Promise<unknown> | undefined;
      for (const hook of hooks) {
        if (pending) pending = pending.then(() => hook(info));
        else {
          const result = hook(info);
          if (result instanceof Promise) pending = result;
        }
      }
      return pending?.then(() => undefined);
    };
  }
  return combined as XdsServerCallbacks;
}
