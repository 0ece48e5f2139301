// validateConfig: Istio's per-object semantic validation (what its admission webhook checks), as diagnostics.
import { messageToJson, XdsKitError } from "@xdskit/core";
import type { ConfigDiagnostic } from "../config/diagnostics.js";
import { kindInfos, parseApiVersion } from "../config/kinds.js";
import type { AnyConfigObject } from "../config/model.js";
import { checkSchema, type SchemaProblem } from "./crd-schema.js";
import { crdSchemaTable } from "./crd-schemas.gen.js";
import { validateDestinationRule } from "./destination-rule.js";
import { validateGateway } from "./gateway.js";
import type { Report } from "./report.js";
import { validateAuthorizationPolicy, validatePeerAuthentication, validateRequestAuthentication } from "./security.js";
import { validateServiceEntry, validateWorkloadEntry, validateWorkloadGroup } from "./service-entry.js";
import { validateSidecar } from "./sidecar.js";
import { validateVirtualService } from "./virtual-service.js";

/** Istio's analyzer codes for what its webhook reports: an error rejects the object, a warning does not. */
export const SCHEMA_VALIDATION_ERROR = "IST0106";
export const SCHEMA_WARNING = "IST0133";
/** A spec the Kubernetes API server would refuse: it breaks the CRD's OpenAPI schema or one of its CEL rules. */
export const CRD_SCHEMA_ERROR = "XDS_CRD_SCHEMA";

const specOf = new Map(kindInfos.filter((k) => k.spec).map((k) => [k.kind, k.spec]));

/**
 * The spec checked against its CRD's schema: as written when the loader read it, otherwise the spec's proto3
 * JSON. Istio kinds only; an apiVersion whose CRD has no schema is not checked.
 */
export function structuralProblems(object: AnyConfigObject): SchemaProblem[] {
  const info = specOf.get(object.kind);
  if (!info) return [];
  const { group, version } = parseApiVersion(object.apiVersion);
  const index = crdSchemaTable.kinds[`${group}/${object.kind}`]?.[version];
  const schema = index === undefined ? undefined : crdSchemaTable.schemas[index];
  if (!schema) return [];
  const written = object.source?.json as { spec?: unknown } | undefined;
  const spec = written ? (written.spec ?? {}) : messageToJson(info.messageName, info.codec, object.spec);
  const problems: SchemaProblem[] = [];
  checkSchema(schema, spec, "spec", problems);
  return problems;
}

/** A diagnostic about `object` at `path`, with where that field was written. */
export function diagnosticAt(
  object: AnyConfigObject,
  severity: ConfigDiagnostic["severity"],
  code: string,
  path: string,
  message: string,
): ConfigDiagnostic {
  const position = object.source?.positionOf(path);
  return {
    severity,
    code,
    kind: object.kind,
    name: object.metadata.name,
    namespace: object.kind === "Namespace" ? undefined : object.metadata.namespace,
    path,
    message,
    ...(position ? { file: position.file, line: position.line, column: position.column } : {}),
  };
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Names the Kubernetes API server accepts: a lowercase RFC 1123 subdomain, in a namespace that is a label. */
function metadataProblems(object: AnyConfigObject): SchemaProblem[] {
  const out: SchemaProblem[] = [];
  const { name, namespace } = object.metadata;
  if (name.length > 253 || !DNS_SUBDOMAIN.test(name))
    out.push({
      path: "metadata.name",
      message: `Invalid value: ${JSON.stringify(name)}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
    });
  if (object.kind !== "Namespace" && (namespace.length > 63 || !DNS_LABEL.test(namespace)))
    out.push({
      path: "metadata.namespace",
      message: `Invalid value: ${JSON.stringify(namespace)}: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`,
    });
  return out;
}

/** Validates one object; the diagnostics name its fields. */
export function validateObject(object: AnyConfigObject): ConfigDiagnostic[] {
  const out: ConfigDiagnostic[] = [];
  const report: Report = {
    error: (path, message, code = SCHEMA_VALIDATION_ERROR) =>
      out.push(diagnosticAt(object, "error", code, path, message)),
    warning: (path, message, code = SCHEMA_WARNING) => out.push(diagnosticAt(object, "warning", code, path, message)),
  };
  for (const p of metadataProblems(object)) report.error(p.path, p.message, CRD_SCHEMA_ERROR);
  const annotations = object.metadata.annotations ?? {};
  if ("istio.io/dry-run" in annotations && object.kind !== "AuthorizationPolicy")
    report.error(
      "metadata.annotations",
      `${object.metadata.namespace}/${object.metadata.name} has unsupported annotation istio.io/dry-run, please remove the annotation`,
    );
  for (const p of structuralProblems(object)) report.error(p.path, p.message, CRD_SCHEMA_ERROR);
  // Specs built in code may leave fields unset; a round trip through the codec fills proto3 defaults.
  const codec = specOf.get(object.kind)?.codec;
  const spec = codec ? codec.decode(codec.encode(object.spec).finish()) : object.spec;
  const { namespace, name } = object.metadata;
  switch (object.kind) {
    case "VirtualService":
      validateVirtualService(spec as typeof object.spec, namespace, report);
      break;
    case "DestinationRule":
      validateDestinationRule(spec as typeof object.spec, namespace, report);
      break;
    case "Gateway":
      validateGateway(spec as typeof object.spec, name, report);
      break;
    case "ServiceEntry":
      validateServiceEntry(spec as typeof object.spec, namespace, report);
      break;
    case "WorkloadEntry":
      validateWorkloadEntry(spec as typeof object.spec, "spec", report);
      break;
    case "WorkloadGroup":
      validateWorkloadGroup(spec as typeof object.spec, report);
      break;
    case "Sidecar":
      validateSidecar(spec as typeof object.spec, namespace, report);
      break;
    case "PeerAuthentication":
      validatePeerAuthentication(spec as typeof object.spec, report);
      break;
    case "AuthorizationPolicy":
      validateAuthorizationPolicy(spec as typeof object.spec, name, namespace, report);
      break;
    case "RequestAuthentication":
      validateRequestAuthentication(spec as typeof object.spec, report);
      break;
    default:
      break;
  }
  return out;
}

/**
 * Istio's per-object validation of every object: the messages its admission webhook gives (code IST0106 for
 * errors, IST0133 for warnings), each at the field it is about. An object with an error diagnostic is what
 * Istio would reject.
 */
export function validateConfig(objects: readonly AnyConfigObject[]): ConfigDiagnostic[] {
  if (!Array.isArray(objects)) throw new XdsKitError("INVALID_ARGUMENT", "validateConfig: objects must be an array");
  const out: ConfigDiagnostic[] = [];
  for (const [i, object] of objects.entries()) {
    if (!object || typeof object !== "object" || typeof object.kind !== "string" || !object.metadata)
      throw new XdsKitError("INVALID_ARGUMENT", `validateConfig: objects[${i}] is not a config object`);
    out.push(...validateObject(object));
  }
  return out;
}
