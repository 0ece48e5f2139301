/** How serious a diagnostic is: errors reject the input, warnings only inform. */
export type DiagnosticSeverity = "error" | "warning";

/**
 * A problem found in user input. Returned, never thrown: `kind`/`name`/`namespace` identify the object,
 * `path` the field inside it (e.g. `filterChains[0].filters[0].typedConfig.rds.routeConfigName`).
 */
export interface Diagnostic {
  readonly severity: DiagnosticSeverity;
  readonly kind: string;
  readonly name: string;
  readonly namespace?: string;
  readonly path: string;
  readonly message: string;
}

/** Renders a diagnostic on one line: `error Listener "x" at a.b: message`. */
export function formatDiagnostic(d: Diagnostic): string {
  const where = d.namespace ? `${d.namespace}/${d.name}` : d.name;
  return `${d.severity} ${d.kind} "${where}"${d.path ? ` at ${d.path}` : ""}: ${d.message}`;
}
