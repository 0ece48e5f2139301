// One thread of a CSR worker pool (csr-worker-pool.ts): answers each CSR it is sent.

import { parentPort } from "node:worker_threads";
import { answerCsrWorkerRequest, type CsrWorkerRequest } from "./csr-worker-pool.js";

const port = parentPort;
if (!port) throw new Error("csr-worker runs as a worker thread of createCsrWorkerPool");
port.on("message", (request: CsrWorkerRequest) => port.postMessage(answerCsrWorkerRequest(request)));
