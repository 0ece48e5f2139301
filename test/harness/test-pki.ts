// A throwaway PKI for TLS tests, made with the openssl CLI: a root CA, a server certificate for
// 127.0.0.1/localhost, and client certificates carrying a SPIFFE ID as a URI SAN.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

export interface Pem {
  cert: Buffer;
  key: Buffer;
}

export interface TestPki {
  ca: Buffer;
  server: Pem;
  /** A client certificate whose URI SAN is `spiffeId`. */
  client(spiffeId: string): Pem;
  cleanup(): void;
}

export function createTestPki(): TestPki {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "xdskit-pki-"));
  const file = (name: string) => path.join(dir, name);
  const openssl = (...args: string[]) => execFileSync("openssl", args, { stdio: ["ignore", "pipe", "pipe"] });
  openssl(
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-days",
    "1",
    "-subj",
    "/CN=xdskit test root",
    "-keyout",
    file("ca.key"),
    "-out",
    file("ca.crt"),
  );
  let serial = 1;
  const issue = (name: string, subject: string, san: string): Pem => {
    fs.writeFileSync(file(`${name}.ext`), `subjectAltName=${san}\nbasicConstraints=CA:FALSE\n`);
    openssl(
      "req",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-subj",
      subject,
      "-keyout",
      file(`${name}.key`),
      "-out",
      file(`${name}.csr`),
    );
    openssl(
      "x509",
      "-req",
      "-in",
      file(`${name}.csr`),
      "-CA",
      file("ca.crt"),
      "-CAkey",
      file("ca.key"),
      "-set_serial",
      String(++serial),
      "-days",
      "1",
      "-extfile",
      file(`${name}.ext`),
      "-out",
      file(`${name}.crt`),
    );
    return { cert: fs.readFileSync(file(`${name}.crt`)), key: fs.readFileSync(file(`${name}.key`)) };
  };
  const server = issue("server", "/CN=xdskit test server", "IP:127.0.0.1,DNS:localhost");
  let clients = 0;
  return {
    ca: fs.readFileSync(file("ca.crt")),
    server,
    client: (spiffeId) => issue(`client${++clients}`, "/CN=workload", `URI:${spiffeId}`),
    cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}
