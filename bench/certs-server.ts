// The CA under test for bench/certs.ts: an xDS server (TLS) with IstioCertificateService registered, run as
// its own process. Prints "READY <port>" and the root PEM's path; answers a "CPU" line on stdin with "CPU <µs>"
// (this process's user + system CPU time so far, every thread); exits when its stdin closes (the runner went away).
// Flags: --root-key=ECDSA_P256|RSA_2048|RSA_4096  --dir=<temp dir for the root PEM>
//        --serving-cert=<PEM> --serving-key=<PEM>: serve TLS with these instead of a certificate of the CA (its
//        SPIFFE-only certificate has no DNS name, which Istio's agent CA client checks; bench/certs-istiod.ts)
//        --csr-workers=N: read CSRs in N worker threads (createCsrWorkerPool); 0 (default) on the gRPC thread
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import * as grpc from "@grpc/grpc-js";
import {
  createCertificateAuthority,
  createCertificateService,
  createCsrWorkerPool,
  type KeyAlgorithm,
} from "@xdskit/certs";
import { createSnapshotCache } from "@xdskit/core";
import { createXdsServer } from "@xdskit/server";
import { LOOPBACK, parseFlags } from "./lib/proc.js";

const flags = parseFlags(process.argv.slice(2));
const rootKeyAlgorithm = (flags.get("root-key") ?? "ECDSA_P256") as KeyAlgorithm;
const dir = flags.get("dir") ?? ".";

const csrWorkers = Number(flags.get("csr-workers") ?? 0);

const ca = await createCertificateAuthority({
  rootKeyAlgorithm,
  ...(csrWorkers > 0 ? { csrReader: createCsrWorkerPool({ workers: csrWorkers }) } : {}),
});
// Tokens are "<namespace>/<service-account>": the bench measures signing, not token checks.
const service = createCertificateService({
  ca,
  verifyToken: ({ token }) => {
    const [namespace, serviceAccount] = token.split("/");
    return namespace && serviceAccount ? { trustDomain: ca.trustDomain, namespace, serviceAccount } : undefined;
  },
});
const servingCertPath = flags.get("serving-cert");
const servingKeyPath = flags.get("serving-key");
const serving =
  servingCertPath && servingKeyPath
    ? { certChain: [readFileSync(servingCertPath, "utf8")], privateKey: readFileSync(servingKeyPath, "utf8") }
    : await ca.issue({ namespace: "istio-system", serviceAccount: "istiod" });
const server = createXdsServer({
  cache: createSnapshotCache(),
  credentials: grpc.ServerCredentials.createSsl(
    null,
    [{ cert_chain: Buffer.from(serving.certChain.join("")), private_key: Buffer.from(serving.privateKey) }],
    false,
  ),
});
server.grpcServer.addService(service.definition, service.implementation);
const port = await server.listen(`${LOOPBACK}:0`);
const rootPath = join(dir, `root-${rootKeyAlgorithm}.pem`);
writeFileSync(rootPath, ca.trustBundle.join(""));
process.stdout.write(`READY ${port} ${rootPath}\n`);
createInterface({ input: process.stdin }).on("line", (line) => {
  if (line === "CPU") {
    const { user, system } = process.cpuUsage();
    process.stdout.write(`CPU ${user + system}\n`);
  }
});
process.stdin.on("end", () => process.exit(0));
process.stdin.on("close", () => process.exit(0));
