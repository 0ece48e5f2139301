import type { Diagnostic } from "@xdskit/core";

/**
 * A problem found in configuration. Returned, never thrown. Beside core's Diagnostic (severity, kind,
 * namespace/name, field path, message) it says where the field was written and carries a code: Istio's
 * analyzer code where Istio has one (`IST0101`), otherwise an xdskit code (`XDS_…`).
 */
export interface ConfigDiagnostic extends Diagnostic {
  readonly code: string;
  readonly file?: string;
  readonly line?: number;
  readonly column?: number;
}

/** `file:line:column: error IST0101 VirtualService default/reviews at spec.http[0]: message` */
export function formatConfigDiagnostic(d: ConfigDiagnostic): string {
  const where = d.file ? `${d.file}:${d.line ?? 1}:${d.column ?? 1}: ` : d.line ? `${d.line}:${d.column ?? 1}: ` : "";
  const object = d.name ? ` ${d.kind} ${d.namespace ? `${d.namespace}/` : ""}${d.name}` : d.kind ? ` ${d.kind}` : "";
  return `${where}${d.severity} ${d.code}${object}${d.path ? ` at ${d.path}` : ""}: ${d.message}`;
}
