// PeerAuthentication rules (the security kinds translate reads for mTLS modes).
import type { PeerAuthentication } from "@xdskit/core/istio";
import { validateSelectorLabels } from "./destination-rule.js";
import { dict, type Report } from "./report.js";

export function validatePeerAuthentication(pa: PeerAuthentication, report: Report): void {
  const emptySelector = Object.keys(dict(pa.selector?.matchLabels)).length === 0;
  const ports = Object.keys(dict(pa.portLevelMtls));
  if (emptySelector && ports.length > 0)
    report.error("spec.portLevelMtls", "mesh/namespace peer authentication cannot have port level mTLS");
  for (const port of ports) {
    const n = Number(port);
    if (!(n > 0 && n <= 65535)) report.error(`spec.portLevelMtls.${port}`, "port must be in range 1..65535");
  }
  if (pa.selector) validateSelectorLabels(pa.selector.matchLabels, "spec.selector.matchLabels", report);
}
