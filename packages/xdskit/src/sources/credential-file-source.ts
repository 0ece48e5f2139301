// Gateway credentials from PEM files (createControlPlane's `credentials` option): each becomes a kubernetes.io/tls
// Secret object, so it is checked, served and rotated exactly as a Secret written in the config is. The files'
// directories are watched; any event re-reads every file after `debounceMs` of quiet, and only credentials whose
// text changed are emitted (a certificate renewed on disk reaches the gateways' Envoys as an SDS update).
import fs from "node:fs";
import path from "node:path";
import { XdsKitError } from "@xdskit/core";
import { Observable } from "rxjs";
import type { ConfigChange, ConfigDocument, ConfigSource } from "./config-source.js";
import { objectId } from "./memory-source.js";

export interface CredentialFiles {
  /** The credentialName a Gateway refers to (`tls.credentialName`). */
  readonly name: string;
  /** The namespace of the gateway proxies that may read it (Istio reads credentials in the gateway's namespace). */
  readonly namespace: string;
  /** PEM files: the certificate chain, its private key, and optionally the CA for MUTUAL servers. */
  readonly certificateChain: string;
  readonly privateKey: string;
  readonly caCertificate?: string;
}

const NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/** Checks the `credentials` option; throws naming the entry and field. */
export function checkCredentialFiles(credentials: unknown): CredentialFiles[] {
  if (!Array.isArray(credentials))
    throw new XdsKitError(
      "INVALID_ARGUMENT",
      "createControlPlane: credentials must be an array of { name, namespace, certificateChain, privateKey, caCertificate? }",
    );
  const seen = new Set<string>();
  return credentials.map((entry, index) => {
    const where = `createControlPlane: credentials[${index}]`;
    if (entry === null || typeof entry !== "object")
      throw new XdsKitError(
        "INVALID_ARGUMENT",
        `${where} must be an object { name, namespace, certificateChain, privateKey }`,
      );
    const value = entry as Record<string, unknown>;
    for (const field of ["name", "namespace"] as const)
      if (typeof value[field] !== "string" || !NAME.test(value[field] as string))
        throw new XdsKitError(
          "INVALID_ARGUMENT",
          `${where}.${field} must be a Kubernetes name (lower case, digits, '-', '.'), got ${JSON.stringify(value[field])}`,
        );
    for (const field of ["certificateChain", "privateKey", "caCertificate"] as const) {
      if (field === "caCertificate" && value[field] === undefined) continue;
      if (typeof value[field] !== "string" || value[field] === "")
        throw new XdsKitError(
          "INVALID_ARGUMENT",
          `${where}.${field} must be a file path, got ${JSON.stringify(value[field])}`,
        );
    }
    const key = `${value.namespace}/${value.name}`;
    if (seen.has(key)) throw new XdsKitError("INVALID_ARGUMENT", `${where}: credential ${key} is listed twice`);
    seen.add(key);
    return {
      name: value.name as string,
      namespace: value.namespace as string,
      certificateChain: path.resolve(value.certificateChain as string),
      privateKey: path.resolve(value.privateKey as string),
      ...(value.caCertificate ? { caCertificate: path.resolve(value.caCertificate as string) } : {}),
    };
  });
}

/** A source of one kubernetes.io/tls Secret per credential, re-read when its files change. */
export function createCredentialFileSource(credentials: readonly CredentialFiles[], debounceMs = 100): ConfigSource {
  const documentOf = (credential: CredentialFiles): ConfigDocument => {
    const read = (file: string, field: string) => {
      try {
        return fs.readFileSync(file, "utf8");
      } catch (error) {
        throw new XdsKitError(
          "INVALID_ARGUMENT",
          `credential ${credential.namespace}/${credential.name}: ${field} ${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
        );
      }
    };
    const stringData: Record<string, string> = {
      "tls.crt": read(credential.certificateChain, "certificateChain"),
      "tls.key": read(credential.privateKey, "privateKey"),
      ...(credential.caCertificate ? { "ca.crt": read(credential.caCertificate, "caCertificate") } : {}),
    };
    return {
      id: objectId("Secret", credential.namespace, credential.name),
      objects: [
        {
          apiVersion: "v1",
          kind: "Secret",
          metadata: { name: credential.name, namespace: credential.namespace },
          type: "kubernetes.io/tls",
          stringData,
        },
      ],
    };
  };

  return {
    name: `credential files (${credentials.length})`,
    changes: new Observable<ConfigChange>((subscriber) => {
      const last = new Map<string, string>();
      const readAll = (): ConfigDocument[] => credentials.map(documentOf);
      let first: ConfigDocument[];
      try {
        first = readAll();
      } catch (error) {
        subscriber.error(error);
        return;
      }
      for (const document of first) last.set(document.id, JSON.stringify(document.objects));
      subscriber.next({ full: true, upserted: first, removed: [] });

      let timer: NodeJS.Timeout | undefined;
      const rescan = () => {
        timer = undefined;
        const changed: ConfigDocument[] = [];
        for (const credential of credentials) {
          let document: ConfigDocument;
          try {
            document = documentOf(credential);
          } catch {
            continue; // a file being replaced: the next event reads it again; the last good one is served
          }
          const text = JSON.stringify(document.objects);
          if (last.get(document.id) === text) continue;
          last.set(document.id, text);
          changed.push(document);
        }
        if (changed.length > 0) subscriber.next({ full: false, upserted: changed, removed: [] });
      };
      const directories = new Set(
        credentials
          .flatMap((c) => [c.certificateChain, c.privateKey, c.caCertificate ?? c.certificateChain])
          .map((f) => path.dirname(f)),
      );
      const watchers = [...directories].map((directory) =>
        fs
          .watch(directory, () => {
            if (timer) clearTimeout(timer);
            timer = setTimeout(rescan, debounceMs);
          })
          // A watcher that fails (its directory removed) ends the source; what it served stays served.
          .on("error", (error) =>
            subscriber.error(
              new XdsKitError("CLOSED", `credential files: watching ${directory} failed: ${error.message}`),
            ),
          ),
      );
      return () => {
        if (timer) clearTimeout(timer);
        for (const watcher of watchers) watcher.close();
      };
    }),
  };
}
