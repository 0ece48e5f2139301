// Workload identities: SPIFFE ids of the form spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>.

import { XdsKitError } from "@xdskit/core";

/** A workload's identity: a Kubernetes-style service account in a namespace of a trust domain. */
export interface WorkloadIdentity {
  readonly trustDomain: string;
  readonly namespace: string;
  readonly serviceAccount: string;
}

/** Istio's default trust domain. */
export const DEFAULT_TRUST_DOMAIN = "cluster.local";

// Trust domains are DNS-like names (SPIFFE: lowercase letters, digits, ".", "-", "_").
const TRUST_DOMAIN = /^[a-z0-9._-]+$/;
// Namespaces and service accounts: Kubernetes names (RFC 1123 subdomain for service accounts).
const SEGMENT = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/** Why `identity` is not a valid workload identity, or undefined. */
export function identityProblem(identity: Partial<WorkloadIdentity>): string | undefined {
  if (typeof identity.trustDomain !== "string" || !TRUST_DOMAIN.test(identity.trustDomain))
    return `trustDomain "${String(identity.trustDomain)}" must be lowercase letters, digits, ".", "-" or "_"`;
  for (const field of ["namespace", "serviceAccount"] as const) {
    const value = identity[field];
    if (typeof value !== "string" || value.length > 253 || !SEGMENT.test(value))
      return `${field} "${String(value)}" must be a Kubernetes name (lowercase letters, digits, "-" and ".")`;
  }
  return undefined;
}

/** The SPIFFE id of an identity: `spiffe://cluster.local/ns/default/sa/bookinfo-reviews`. */
export function spiffeIdOf(identity: WorkloadIdentity): string {
  const problem = identityProblem(identity);
  if (problem) throw new XdsKitError("INVALID_ARGUMENT", `workload identity: ${problem}`);
  return `spiffe://${identity.trustDomain}/ns/${identity.namespace}/sa/${identity.serviceAccount}`;
}

/** The identity a SPIFFE id names, or undefined if it is not of the form spiffe://<td>/ns/<ns>/sa/<sa>. */
export function parseSpiffeId(uri: string): WorkloadIdentity | undefined {
  const match = /^spiffe:\/\/([^/]+)\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(uri);
  if (!match) return undefined;
  const identity = { trustDomain: match[1] ?? "", namespace: match[2] ?? "", serviceAccount: match[3] ?? "" };
  return identityProblem(identity) ? undefined : identity;
}
