// Test fixture: a CSR worker thread that dies with an uncaught error when it is sent the text "crash", and
// otherwise answers like the real one.

import { parentPort } from "node:worker_threads";
import { answerCsrWorkerRequest, type CsrWorkerRequest } from "../csr-worker-pool.js";

parentPort?.on("message", (request: CsrWorkerRequest) => {
  if (request.csrPem === "crash") throw new Error("the fixture crashed on purpose");
  parentPort?.postMessage(answerCsrWorkerRequest(request));
});
