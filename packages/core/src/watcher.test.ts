import { describe, expect, it } from "vitest";
import * as core from "./index.js";
import * as watcher from "./watcher.js";

describe("@xdskit/core/watcher", () => {
  const serverSupport = [
    "ABSENT",
    "isHeldVersion",
    "changedBetween",
    "changedNames",
    "deltaResponse",
    "deltaResponseFrom",
    "isImmutableView",
    "markImmutable",
    "sotwResponse",
    "sotwResponseFrom",
    "viewOf",
    "clusterNamesOf",
    "edsNameOf",
    "rdsNamesOf",
    "createAckTracker",
  ];

  it("holds what caches and the server share; the user-facing index does not", () => {
    for (const name of serverSupport) {
      expect(watcher, name).toHaveProperty(name);
      expect(core, name).not.toHaveProperty(name);
    }
    // The caches and the ConfigWatcher seam stay user-facing.
    for (const name of [
      "createSnapshotCache",
      "createLinearCache",
      "createMuxCache",
      "createSnapshot",
      "prepareResource",
    ])
      expect(core, name).toHaveProperty(name);
  });
});
