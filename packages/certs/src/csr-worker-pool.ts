// CSR reading in worker threads: parsing a workload's CSR, importing its key and checking its signature cost
// most of a signing's CPU. A pool moves them off the thread that runs gRPC and TLS, onto the other cores.
// Opt-in: the application (or createControlPlane's `csrWorkers`) makes the pool, hands it to the CA as its
// `csrReader` and closes it. It opens no socket and sets no timer.

import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { XdsKitError, type XdsKitErrorCode } from "@xdskit/core";
import { parseCsrSync } from "./csr.js";

/** What the CA needs from a CSR: the key for the certificate, why its type is refused, the SANs asked for. */
export interface CsrReading {
  /** SubjectPublicKeyInfo DER, as the certificate carries it. */
  readonly subjectPublicKeyInfoDer: Uint8Array;
  /** Why the key type is refused, or undefined. */
  readonly keyProblem: string | undefined;
  /** The SANs asked for, as "URI:spiffe://...", "DNS:name"... */
  readonly subjectAltNames: readonly string[];
}

/**
 * Reads and checks CSRs for a CA (`csrReader` of createCertificateAuthority). A malformed CSR or one whose
 * signature does not verify rejects with XdsKitError INVALID_ARGUMENT, as the CA's own reading does.
 */
export interface CsrReader {
  readCsr(csrPem: string): Promise<CsrReading>;
}

/** A {@link CsrReader} of worker threads. */
export interface CsrWorkerPool extends CsrReader {
  /** Threads the pool runs at most. */
  readonly size: number;
  /** Stops every thread; reads in flight and later ones reject with XdsKitError CLOSED. */
  close(): Promise<void>;
}

/** Options of {@link createCsrWorkerPool}. */
export interface CsrWorkerPoolOptions {
  /** Threads, started at once (the cores left to gRPC's thread are a good number). Default: 2. */
  workers?: number;
}

/** @internal A request to a CSR worker thread. */
export interface CsrWorkerRequest {
  readonly id: number;
  readonly csrPem: string;
}
/** @internal A CSR worker thread's answer: the reading, or the refusal's code and message. */
export type CsrWorkerAnswer =
  | { readonly id: number; readonly reading: CsrReading }
  | { readonly id: number; readonly refusal: { readonly code: XdsKitErrorCode; readonly message: string } };

/** @internal What a CSR worker thread answers: the same reading and refusals as parseCsr on the CA's thread. */
export function answerCsrWorkerRequest({ id, csrPem }: CsrWorkerRequest): CsrWorkerAnswer {
  try {
    const csr = parseCsrSync(csrPem);
    return {
      id,
      reading: {
        subjectPublicKeyInfoDer: csr.subjectPublicKeyInfoDer,
        keyProblem: csr.keyProblem,
        subjectAltNames: csr.subjectAltNames,
      },
    };
  } catch (error) {
    return {
      id,
      refusal: {
        code: error instanceof XdsKitError ? error.code : "INTERNAL",
        message: (error as Error)?.message ?? String(error),
      },
    };
  }
}

interface Pending {
  resolve(reading: CsrReading): void;
  reject(error: XdsKitError): void;
}

interface PoolThread {
  readonly worker: Worker;
  readonly number: number;
  readonly pending: Map<number, Pending>;
  /** Why the thread failed, when it did (its uncaught error). */
  failure?: string;
}

/**
 * How to start the worker script next to this module: the built `.js` / `.cjs` as it is; the TypeScript
 * source (this repository's tests and benches) through tsx's loader, with workspace packages as sources.
 */
function workerStart(entry: URL): { code: string | URL; eval: boolean; execArgv: string[] } {
  // A thread takes the process's node options, but not --input-type (for `node -e` code, refused with a file).
  const execArgv = process.execArgv.filter((option) => !option.startsWith("--input-type"));
  if (!entry.pathname.endsWith(".ts")) return { code: entry, eval: false, execArgv };
  const tsxApi = createRequire(entry)
    .resolve("tsx/esm/api")
    .replace(/\.cjs$/, ".mjs");
  const code = `import(${JSON.stringify(pathToFileURL(tsxApi).href)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); });`;
  return { code, eval: true, execArgv: [...execArgv, "--conditions=source"] };
}

/** The worker script beside this module, with this module's extension (.ts from source, .js / .cjs built). */
function csrWorkerEntry(): URL {
  const here = new URL(import.meta.url);
  const extension = /\.[cm]?[jt]s$/.exec(here.pathname)?.[0] ?? ".js";
  return new URL(`./csr-worker${extension}`, here);
}

/**
 * Starts a pool of threads that read CSRs (parse, key import, signature check). Each read goes to the thread
 * with the fewest in flight. A thread that fails rejects only its own reads in flight (XdsKitError INTERNAL
 * saying so) and is replaced at the next read; the other threads go on. Idle threads do not keep the process
 * alive.
 */
export function createCsrWorkerPool(options: CsrWorkerPoolOptions = {}): CsrWorkerPool {
  if (typeof options !== "object" || options === null)
    throw new XdsKitError("INVALID_ARGUMENT", "createCsrWorkerPool: options must be an object");
  const size = options.workers ?? 2;
  if (typeof size !== "number" || !Number.isInteger(size) || size < 1 || size > 64)
    throw new XdsKitError(
      "INVALID_ARGUMENT",
      `createCsrWorkerPool: options.workers must be a whole number from 1 to 64, got ${String(size)}`,
    );
  return startCsrWorkerPool(csrWorkerEntry(), size);
}

/** @internal The pool over any worker script that speaks {@link CsrWorkerRequest} / {@link CsrWorkerAnswer} (tests). */
export function startCsrWorkerPool(entry: URL, size: number): CsrWorkerPool {
  const threads: PoolThread[] = [];
  let nextId = 0;
  let started = 0;
  let closed = false;

  const closedError = () => new XdsKitError("CLOSED", "the CSR worker pool is closed");

  const startThread = (): PoolThread => {
    const start = workerStart(entry);
    const worker = new Worker(start.code, { eval: start.eval, execArgv: start.execArgv });
    const thread: PoolThread = { worker, number: ++started, pending: new Map() };
    worker.unref(); // referenced only while it has reads in flight
    worker.on("message", (answer: CsrWorkerAnswer) => {
      const pending = thread.pending.get(answer.id);
      if (!pending) return;
      thread.pending.delete(answer.id);
      if (thread.pending.size === 0) worker.unref();
      if ("reading" in answer) pending.resolve(answer.reading);
      else pending.reject(new XdsKitError(answer.refusal.code, answer.refusal.message));
    });
    worker.on("error", (error) => {
      thread.failure = error?.message ?? String(error);
    });
    worker.on("exit", (exitCode) => {
      const index = threads.indexOf(thread);
      if (index >= 0) threads.splice(index, 1);
      const reason = closed
        ? undefined
        : `CSR worker thread ${thread.number} stopped (${thread.failure ?? `exit code ${exitCode}`}) while reading this CSR; other requests go on`;
      for (const pending of thread.pending.values())
        pending.reject(reason ? new XdsKitError("INTERNAL", reason) : closedError());
      thread.pending.clear();
    });
    threads.push(thread);
    return thread;
  };

  /** The thread with the fewest reads in flight; a new one in place of a failed one while all are busy. */
  const pickThread = (): PoolThread => {
    let best: PoolThread | undefined;
    for (const thread of threads) if (!best || thread.pending.size < best.pending.size) best = thread;
    if (!best || (best.pending.size > 0 && threads.length < size)) return startThread();
    return best;
  };
  // Started now: a thread takes a while to load its code, which the first requests should not wait for.
  for (let i = 0; i < size; i++) startThread();

  return {
    size,
    readCsr(csrPem) {
      if (closed) return Promise.reject(closedError());
      const thread = pickThread();
      const id = ++nextId;
      return new Promise<CsrReading>((resolve, reject) => {
        if (thread.pending.size === 0) thread.worker.ref();
        thread.pending.set(id, { resolve, reject });
        thread.worker.postMessage({ id, csrPem } satisfies CsrWorkerRequest);
      });
    },
    async close() {
      closed = true;
      await Promise.all([...threads].map((thread) => thread.worker.terminate()));
    },
  };
}
