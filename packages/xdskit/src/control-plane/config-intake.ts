// From source documents to the set of config objects a control plane serves: each document loaded and checked;
// an object with errors never replaces the last good version of that object (the rest of its document still
// applies), and a document that does not parse at all keeps its last good objects.
import { type AnyConfigObject, type ConfigDiagnostic, configKey, loadConfig } from "@xdskit/translate";
import type { ConfigChange, ConfigDocument } from "../sources/config-source.js";

/** Checks loaded objects; returns their problems (errors reject the object). */
export type ConfigValidator = (objects: readonly AnyConfigObject[]) => readonly ConfigDiagnostic[];

export interface IntakeResult {
  /** Documents whose objects changed what is served. */
  readonly changed: boolean;
  /** Objects rejected by this change (their last good version, if any, is kept). */
  readonly rejected: readonly { readonly key: string; readonly diagnostics: readonly ConfigDiagnostic[] }[];
  /** Problems found in the documents this change touched. */
  readonly diagnostics: readonly ConfigDiagnostic[];
}

export interface ConfigIntake {
  /** Takes one change of one source (documents are namespaced by `sourceName`). */
  take(sourceName: string, change: ConfigChange): IntakeResult;
  /** Every object served now, in a stable order (by document, then position). */
  objects(): AnyConfigObject[];
  /** The current problems of every document. */
  diagnostics(): ConfigDiagnostic[];
}

interface HeldDocument {
  readonly objects: readonly AnyConfigObject[];
  readonly diagnostics: readonly ConfigDiagnostic[];
  /** The validation diagnostics of each object it loaded, by key (reused while the object is unchanged). */
  readonly validation: ReadonlyMap<string, readonly ConfigDiagnostic[]>;
  /** When it last changed (a counter): of two documents defining one object, the newer wins. */
  readonly sequence: number;
}

const keyOfDiagnostic = (d: ConfigDiagnostic) =>
  d.kind && d.name ? configKey({ kind: d.kind, metadata: { name: d.name, namespace: d.namespace } }) : undefined;

function loadDocument(document: ConfigDocument) {
  if (document.text !== undefined) return loadConfig({ file: document.file ?? document.id, text: document.text });
  return loadConfig({
    file: document.id,
    text: JSON.stringify({ apiVersion: "v1", kind: "List", items: document.objects ?? [] }),
  });
}

export function createConfigIntake(validate?: ConfigValidator): ConfigIntake {
  const documents = new Map<string, HeldDocument>();
  let sequence = 0;

  /** Every object once: where several documents define it, the one changed last wins (like `kubectl apply`). */
  const served = () => {
    const winners = new Map<string, { object: AnyConfigObject; sequence: number; document: string }>();
    const duplicates: ConfigDiagnostic[] = [];
    for (const [id, document] of documents)
      for (const object of document.objects) {
        const key = configKey(object);
        const current = winners.get(key);
        if (current && current.sequence > document.sequence) {
          duplicates.push(duplicateWarning(object, current.document));
          continue;
        }
        if (current) duplicates.push(duplicateWarning(current.object, id));
        winners.set(key, { object, sequence: document.sequence, document: id });
      }
    return { objects: [...winners.values()].map((w) => w.object), duplicates };
  };

  return {
    take(sourceName, change) {
      const rejected: { key: string; diagnostics: ConfigDiagnostic[] }[] = [];
      const diagnostics: ConfigDiagnostic[] = [];
      let changed = false;
      const prefix = `${sourceName}\u0000`;
      if (change.full)
        for (const id of [...documents.keys()])
          if (id.startsWith(prefix) && !change.upserted.some((d) => prefix + d.id === id)) {
            documents.delete(id);
            changed = true;
          }
      for (const id of change.removed) changed = documents.delete(prefix + id) || changed;
      for (const document of change.upserted) {
        const id = prefix + document.id;
        const previous = documents.get(id);
        const loaded = loadDocument(document);
        // An object written exactly as before (content and place) is the object served before, with the
        // validation it had: only new and edited objects are validated, and the translator sees no change.
        const previousByKey = new Map((previous?.objects ?? []).map((o) => [configKey(o), o]));
        const validation = new Map<string, readonly ConfigDiagnostic[]>();
        const toValidate: AnyConfigObject[] = [];
        const objectsLoaded = loaded.objects.map((object) => {
          const key = configKey(object);
          const old = previousByKey.get(key);
          const held = previous?.validation.get(key);
          if (old && held && fingerprint(old) === fingerprint(object)) {
            validation.set(key, held);
            return old;
          }
          toValidate.push(object);
          return object;
        });
        const fresh = validate && toValidate.length > 0 ? validate(toValidate) : [];
        for (const object of toValidate) validation.set(configKey(object), []);
        for (const d of fresh) {
          const key = keyOfDiagnostic(d);
          if (key !== undefined && validation.has(key)) validation.set(key, [...(validation.get(key) ?? []), d]);
        }
        const found = [
          ...loaded.diagnostics,
          ...[...validation.values()].flat(),
          ...fresh.filter((d) => !validation.has(keyOfDiagnostic(d) ?? "")),
        ];
        diagnostics.push(...found);
        const unreadable = found.some((d) => d.severity === "error" && keyOfDiagnostic(d) === undefined);
        if (unreadable) {
          // The document as a whole is broken (e.g. half-written YAML): keep serving what it held before.
          rejected.push({ key: document.id, diagnostics: found.filter((d) => d.severity === "error") });
          documents.set(id, {
            objects: previous?.objects ?? [],
            diagnostics: found,
            validation: previous?.validation ?? new Map(),
            sequence: previous?.sequence ?? ++sequence,
          });
          continue;
        }
        const errorsByKey = new Map<string, ConfigDiagnostic[]>();
        for (const d of found) {
          const key = d.severity === "error" ? keyOfDiagnostic(d) : undefined;
          if (key !== undefined) errorsByKey.set(key, [...(errorsByKey.get(key) ?? []), d]);
        }
        const objects: AnyConfigObject[] = [];
        for (const object of objectsLoaded) {
          const key = configKey(object);
          const errors = errorsByKey.get(key);
          if (!errors) objects.push(object);
          else {
            rejected.push({ key, diagnostics: errors });
            const good = previousByKey.get(key);
            if (good) objects.push(good);
          }
        }
        // Objects that did not even load (a spec that does not decode) keep their last good version too.
        const loadedKeys = new Set(loaded.objects.map(configKey));
        for (const [key, errors] of errorsByKey)
          if (!loadedKeys.has(key)) {
            rejected.push({ key, diagnostics: errors });
            const good = previousByKey.get(key);
            if (good) objects.push(good);
          }
        documents.set(id, { objects, diagnostics: found, validation, sequence: ++sequence });
        changed = true;
      }
      return { changed, rejected, diagnostics };
    },
    objects: () => served().objects,
    diagnostics: () => [...[...documents.values()].flatMap((d) => d.diagnostics), ...served().duplicates],
  };
}

/** What decides "written as before": everything loaded, positions included. */
const fingerprints = new WeakMap<AnyConfigObject, string>();
let unprintable = 0;
function fingerprint(object: AnyConfigObject): string {
  let text = fingerprints.get(object);
  if (text === undefined) {
    try {
      text = JSON.stringify(object);
    } catch {
      text = `unprintable ${++unprintable}`; // never equal to another: validated every time
    }
    fingerprints.set(object, text);
  }
  return text;
}

const documentName = (id: string) => id.slice(id.indexOf("\u0000") + 1);

function duplicateWarning(object: AnyConfigObject, winner: string): ConfigDiagnostic {
  const position = object.source?.position;
  return {
    severity: "warning",
    code: "XDS_DUPLICATE_OBJECT",
    kind: object.kind,
    name: object.metadata.name,
    namespace: object.metadata.namespace,
    path: "metadata.name",
    message: `also defined in ${documentName(winner)}, which changed later and is served instead`,
    ...(position ? { file: position.file, line: position.line, column: position.column } : {}),
  };
}
