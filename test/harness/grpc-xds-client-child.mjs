// Child process of grpc-xds-client.ts: a proxyless gRPC client (@grpc/grpc-js + @grpc/grpc-js-xds) that
// reads its xDS bootstrap from GRPC_XDS_BOOTSTRAP (set per run by the parent), makes `calls` Who calls
// to an xds:/// target on one channel, one after the other, and prints ONE JSON line on stdout:
//   {"results":[{"ok":true,"service":"echo","version":"v1","metadata":{...}} | {"ok":false,"code":14,"codeName":"UNAVAILABLE","details":"..."}],"elapsedMs":123}
// argv[2] is a JSON object: { target, calls, metadata?, deadlineMs?, waitForReady?, timeoutMs? }.
import { createRequire } from "node:module";
import { who } from "./echo-service.mjs";

const require = createRequire(import.meta.url);
const grpc = require("@grpc/grpc-js");
require("@grpc/grpc-js-xds").register();

function write(line) {
  return new Promise((resolve) => process.stdout.write(`${line}\n`, () => resolve()));
}

const started = Date.now();
const config = JSON.parse(process.argv[2] ?? "{}");
const calls = config.calls ?? 1;
const overallDeadline = started + (config.timeoutMs ?? 10_000);
const metadataOf = (i) =>
  Array.isArray(config.metadata) ? (config.metadata[i % config.metadata.length] ?? {}) : (config.metadata ?? {});

const client = new grpc.Client(config.target, grpc.credentials.createInsecure());
const results = [];
for (let i = 0; i < calls; i++) {
  const remaining = overallDeadline - Date.now();
  if (remaining <= 0) {
    results.push({
      ok: false,
      code: grpc.status.DEADLINE_EXCEEDED,
      codeName: "DEADLINE_EXCEEDED",
      details: "run timed out before this call",
    });
    continue;
  }
  try {
    const reply = await who(client, {
      metadata: metadataOf(i),
      deadlineMs: Math.min(config.deadlineMs ?? remaining, remaining),
      waitForReady: config.waitForReady ?? false,
      request: { call: i },
    });
    results.push({ ok: true, service: reply.service, version: reply.version, metadata: reply.metadata });
  } catch (err) {
    results.push({
      ok: false,
      code: err.code ?? grpc.status.UNKNOWN,
      codeName: grpc.status[err.code] ?? "UNKNOWN",
      details: err.details ?? err.message,
    });
  }
}
client.close();
await write(JSON.stringify({ results, elapsedMs: Date.now() - started }));
// The xDS client keeps its ADS stream and timers alive; the answer is out, so leave now.
process.exit(0);
