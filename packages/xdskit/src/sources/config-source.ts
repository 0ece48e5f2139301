// The seam between where configuration lives (files, code, later Kubernetes or etcd) and the control plane:
// a source is an Observable of changes to a set of documents.
import type { Observable } from "rxjs";

/**
 * One unit of configuration a source holds: a file's text, or objects applied from code. `id` is stable
 * (the file's path, or `Kind/namespace/name` for an object) and names the document in later changes.
 */
export interface ConfigDocument {
  readonly id: string;
  /** YAML or JSON text (files). Diagnostics point at `file` and lines in it. */
  readonly text?: string;
  /** Plain Kubernetes-style objects ({ apiVersion, kind, metadata, spec }) applied from code. */
  readonly objects?: readonly unknown[];
  /** The file name diagnostics should name; files only. */
  readonly file?: string;
}

/**
 * What changed. The first change a subscriber gets has `full: true` and lists every document the source holds
 * (documents not listed do not exist); later ones list what was added or replaced and the ids removed.
 */
export interface ConfigChange {
  readonly full: boolean;
  readonly upserted: readonly ConfigDocument[];
  readonly removed: readonly string[];
}

/** A source of configuration. Subscribing starts it (e.g. watching files); unsubscribing stops it. */
export interface ConfigSource {
  /** Short description for logs, e.g. `dir ./mesh` or `memory`. */
  readonly name: string;
  readonly changes: Observable<ConfigChange>;
}
