// The self-signed CA's directory: Istio's cacerts file names for the signing root, plus the staged next
// root during a root rotation. Keys are written readable by their owner only (mode 0600).

import { chmod, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { XdsKitError } from "@xdskit/core";
import { CACERTS_FILES, type CaMaterial } from "./signer.js";

const STAGED_CERT = "staged-ca-cert.pem";
const STAGED_KEY = "staged-ca-key.pem";

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new XdsKitError("INVALID_ARGUMENT", `CA directory: cannot read ${path} (${(error as Error).message})`, {
      cause: error,
    });
  }
}

/** The CA stored in `dir`, or undefined when the directory holds none yet. */
export async function readCaDir(dir: string): Promise<{ current: CaMaterial; staged?: CaMaterial } | undefined> {
  const [caKey, caCert, rootCert, stagedCert, stagedKey] = await Promise.all(
    [CACERTS_FILES.caKey, CACERTS_FILES.caCert, CACERTS_FILES.rootCert, STAGED_CERT, STAGED_KEY].map((file) =>
      readOptional(join(dir, file)),
    ),
  );
  if (caKey === undefined) return undefined;
  if (caCert === undefined)
    throw new XdsKitError(
      "INVALID_ARGUMENT",
      `CA directory ${dir}: ${CACERTS_FILES.caKey} is there but ${CACERTS_FILES.caCert} is missing`,
    );
  const current: CaMaterial = { caCert, caKey, rootCert: rootCert ?? caCert };
  if (stagedCert === undefined || stagedKey === undefined) return { current };
  return { current, staged: { caCert: stagedCert, caKey: stagedKey, rootCert: stagedCert } };
}

/** Writes a file by rename, so a reader never sees half of it; `mode` applies before the rename. */
async function writeAtomically(path: string, text: string, mode: number): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, text, { mode });
  await chmod(temporary, mode);
  await rename(temporary, path);
}

/** Stores the CA in `dir` (created with mode 0700 if missing). */
export async function writeCaDir(dir: string, current: CaMaterial, staged: CaMaterial | undefined): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeAtomically(join(dir, CACERTS_FILES.caKey), current.caKey, 0o600);
  await writeAtomically(join(dir, CACERTS_FILES.caCert), current.caCert, 0o644);
  await writeAtomically(join(dir, CACERTS_FILES.rootCert), current.rootCert, 0o644);
  if (staged) {
    await writeAtomically(join(dir, STAGED_KEY), staged.caKey, 0o600);
    await writeAtomically(join(dir, STAGED_CERT), staged.caCert, 0o644);
  } else {
    await rm(join(dir, STAGED_KEY), { force: true });
    await rm(join(dir, STAGED_CERT), { force: true });
  }
}
