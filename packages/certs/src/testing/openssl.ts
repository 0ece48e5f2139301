// Test helpers around Debian's openssl command line: an X.509 implementation nobody here wrote.

import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export function tempDir(prefix = "xdskit-certs-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function openssl(args: string[], input?: string): string {
  return execFileSync("openssl", args, { encoding: "utf8", input, stdio: ["pipe", "pipe", "pipe"] });
}

/** `openssl verify` of `leaf` against `roots` with `intermediates` untrusted; returns its output or throws with it. */
export function opensslVerify(options: {
  roots: string;
  intermediates?: string;
  leaf: string;
  purpose?: string;
}): string {
  const dir = tempDir();
  const write = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const args = ["verify", "-CAfile", write("roots.pem", options.roots)];
  if (options.intermediates) args.push("-untrusted", write("untrusted.pem", options.intermediates));
  if (options.purpose) args.push("-purpose", options.purpose);
  args.push(write("leaf.pem", options.leaf));
  try {
    return execFileSync("openssl", args, { encoding: "utf8", stdio: ["pipe", "pipe", "pipe"] });
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string };
    throw new Error(`openssl verify failed: ${failed.stdout ?? ""}${failed.stderr ?? ""}`);
  }
}

/** `openssl x509 -text` of a PEM certificate. */
export function opensslText(pem: string): string {
  return openssl(["x509", "-noout", "-text"], pem);
}

/**
 * A plug-in CA made by openssl alone: root → (intermediates...) → ca-cert, each ECDSA P-256.
 * Returns the cacerts texts the way Istio's tooling lays them out (cert-chain.pem = ca-cert up to the root).
 */
export function opensslPluginCa(depth: number): {
  caCert: string;
  caKey: string;
  rootCert: string;
  certChain: string;
  dir: string;
} {
  const dir = tempDir("xdskit-cacerts-");
  const path = (name: string) => join(dir, name);
  const ext = path("ca.ext");
  writeFileSync(
    ext,
    "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign,digitalSignature\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n",
  );
  openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", path("root-key.pem")]);
  openssl([
    "req",
    "-x509",
    "-new",
    "-key",
    path("root-key.pem"),
    "-subj",
    "/O=Acme/CN=Acme Root CA",
    "-days",
    "3650",
    "-out",
    path("root-cert.pem"),
  ]);
  let parentCert = path("root-cert.pem");
  let parentKey = path("root-key.pem");
  const chain: string[] = [];
  for (let level = 1; level <= depth; level++) {
    const key = path(`int${level}-key.pem`);
    const cert = path(`int${level}-cert.pem`);
    openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key]);
    openssl([
      "req",
      "-new",
      "-key",
      key,
      "-subj",
      `/O=Acme/CN=Acme Intermediate ${level}`,
      "-out",
      path(`int${level}.csr`),
    ]);
    openssl([
      "x509",
      "-req",
      "-in",
      path(`int${level}.csr`),
      "-CA",
      parentCert,
      "-CAkey",
      parentKey,
      "-CAcreateserial",
      "-days",
      String(3000 - level * 100),
      "-extfile",
      ext,
      "-out",
      cert,
    ]);
    chain.unshift(openssl(["x509", "-in", cert]));
    parentCert = cert;
    parentKey = key;
  }
  const rootCert = openssl(["x509", "-in", path("root-cert.pem")]);
  const caCert = openssl(["x509", "-in", parentCert]);
  const caKey = openssl(["pkey", "-in", parentKey]);
  const certChain = [...chain, rootCert].join("");
  const out = tempDir("xdskit-cacerts-out-");
  writeFileSync(join(out, "ca-cert.pem"), caCert);
  writeFileSync(join(out, "ca-key.pem"), caKey);
  writeFileSync(join(out, "root-cert.pem"), rootCert);
  writeFileSync(join(out, "cert-chain.pem"), certChain);
  return { caCert, caKey, rootCert, certChain, dir: out };
}
