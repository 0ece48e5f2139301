// The Bookinfo workloads of mesh/platform.yaml, read from it (WorkloadEntries and their Sidecars), so the demo
// starts each application and sidecar where the mesh config says they are.
import fs from "node:fs";
import { loadConfig } from "@xdskit/translate";

export interface BookinfoWorkload {
  /** WorkloadEntry name, e.g. "reviews-v2". */
  readonly name: string;
  readonly app: string;
  readonly version: string;
  readonly serviceAccount: string;
  /** The workload's address: its sidecar's inbound listener. */
  readonly ip: string;
  /** Where its sidecar's outbound listener binds (the application calls other services there). */
  readonly egressIp: string;
  /** Where the application itself listens (127.0.0.1:appPort). */
  readonly appPort: number;
}

export function readWorkloads(platformFile: string): BookinfoWorkload[] {
  const { objects, diagnostics } = loadConfig({ file: platformFile, text: fs.readFileSync(platformFile, "utf8") });
  const errors = diagnostics.filter((d) => d.severity === "error");
  if (errors.length > 0) throw new Error(`${platformFile}: ${errors[0]?.message}`);
  const sidecars = objects.filter((o) => o.kind === "Sidecar");
  return objects.flatMap((o) => {
    if (o.kind !== "WorkloadEntry") return [];
    const labels = o.spec.labels ?? {};
    const sidecar = sidecars.find(
      (s) =>
        s.kind === "Sidecar" &&
        Object.entries(s.spec.workloadSelector?.labels ?? {}).every(([k, v]) => labels[k] === v),
    );
    if (!sidecar || sidecar.kind !== "Sidecar")
      throw new Error(`${platformFile}: no Sidecar selects ${o.metadata.name}`);
    const ingress = sidecar.spec.ingress?.[0];
    const egress = sidecar.spec.egress?.[0];
    const appPort = Number(ingress?.defaultEndpoint?.split(":").pop());
    if (!ingress?.bind || !egress?.bind || !Number.isInteger(appPort))
      throw new Error(
        `${platformFile}: Sidecar ${sidecar.metadata.name} needs ingress bind + defaultEndpoint and egress bind`,
      );
    return [
      {
        name: o.metadata.name,
        app: labels.app ?? o.metadata.name,
        version: labels.version ?? "v1",
        serviceAccount: o.spec.serviceAccount || "default",
        ip: o.spec.address ?? ingress.bind,
        egressIp: egress.bind,
        appPort,
      },
    ];
  });
}
