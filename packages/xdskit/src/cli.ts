#!/usr/bin/env node
// The `xdskit` executable.
import { processIo } from "./cli/cli-io.js";
import { runCli } from "./cli/program.js";

const controller = new AbortController();
let interrupts = 0;
for (const signal of ["SIGINT", "SIGTERM"] as const)
  process.on(signal, () => {
    // The first Ctrl-C stops cleanly; a second one does not wait.
    if (++interrupts > 1) process.exit(130);
    controller.abort();
  });
process.exitCode = await runCli(process.argv.slice(2), processIo(controller.signal));
