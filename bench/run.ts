// `npm run bench`: the default (small) fan-out matrix plus the idle-streams memory run.
// Flags are passed through to fanout.ts, e.g. `npm run bench -- --full --ratio`; see bench/README.md.
//
// Workspace packages must resolve to their sources (the "source" export condition), so when this
// process was started without it, it starts itself again with the right Node flags. Only node:
// modules are imported statically here for that reason.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const NODE_ARGS = ["--conditions=source", "--import", "tsx"];

if (!process.execArgv.includes("--conditions=source")) {
  const r = spawnSync(process.execPath, [...NODE_ARGS, fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: "inherit",
  });
  process.exit(r.status ?? 1);
}

const { main } = await import("./fanout.js");
await main(process.argv.slice(2));
// Child processes are stopped by now; exit even if a stray handle lingers.
process.exit(0);
