import { describe, expect, it } from "vitest";
import { createAckTracker } from "./ack-tracker.js";
import type { ResourceView } from "./config-watcher.js";
import type { PreparedResource } from "./prepared-resource.js";
import { markImmutable } from "./responses.js";

const TYPE = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
const node = { id: "n1" };

function view(entries: Record<string, string>): ResourceView {
  const resources = new Map(
    Object.entries(entries).map(([name, version]) => [name, { name, version } as PreparedResource]),
  );
  return markImmutable({ version: Object.values(entries).join("."), resources });
}

/**
 * Plays one stream through sends, ACKs and NACKs, keeping `holds` like the server does, and returns the
 * tracker's per-resource status after every step. With `shareView`, each send also says which view the client
 * held exactly before it (the server does when it is in sync), so the tracker may read from the view.
 */
function play(shareView: boolean) {
  const tracker = createAckTracker({ now: () => 0 });
  const holds = new Map<string, string>();
  let heldView: ResourceView | undefined;
  const statuses: unknown[] = [];
  const snapshot = () =>
    statuses.push(
      [...(tracker.status("n1")?.types.get(TYPE)?.resources.values() ?? [])].sort((a, b) =>
        a.name.localeCompare(b.name),
      ),
    );
  let nonce = 0;
  const send = (to: ResourceView, names: string[]) => {
    const n = String(++nonce);
    tracker.feedback.sent({
      streamId: 1,
      node,
      typeUrl: TYPE,
      version: to.version,
      nonce: n,
      resources: names.map((name) => ({ name, version: to.resources.get(name)?.version ?? "" })),
      removed: [],
      delta: false,
      holds,
      ...(shareView && heldView ? { heldView: { view: heldView } } : {}),
    });
    for (const name of names) holds.set(name, to.resources.get(name)?.version ?? "");
    heldView = names.length === to.resources.size ? to : undefined;
    snapshot();
    return { n, version: to.version };
  };
  const ack = ({ n, version }: { n: string; version: string }) => {
    tracker.feedback.acked({ streamId: 1, node, typeUrl: TYPE, nonce: n, version });
    snapshot();
  };
  const nack = ({ n, version }: { n: string; version: string }) => {
    tracker.feedback.nacked({ streamId: 1, node, typeUrl: TYPE, nonce: n, version, errorCode: 3, errorMessage: "no" });
    heldView = undefined;
    snapshot();
  };
  const v1 = view({ a: "1", b: "1", c: "1" });
  const v2 = view({ a: "2", b: "1", c: "1" });
  const v3 = view({ a: "2", b: "3", c: "1" });
  const v4 = view({ a: "4", b: "3", c: "4" });
  ack(send(v1, ["a", "b", "c"]));
  ack(send(v2, ["a", "b", "c"]));
  const rejected = send(v3, ["a", "b", "c"]);
  nack(rejected);
  heldView = undefined;
  const first = send(v4, ["a", "b", "c"]);
  const second = send(v4, ["a", "b", "c"]);
  ack(first);
  ack(second);
  const third = send(v1, ["a", "b", "c"]);
  send(v2, ["a", "b", "c"]);
  ack(third);
  return statuses;
}

describe("AckTracker", () => {
  it("reports the same per-resource status whether it copies what the client accepted or reads it from a view", () => {
    const eager = play(false);
    const fromView = play(true);
    expect(fromView).toEqual(eager);
    // The statuses say something: after the NACK, the client still runs version 1 of "b".
    expect(eager[5]).toContainEqual({ name: "b", sentVersion: "3", ackedVersion: "1", nacked: true });
  });
});
