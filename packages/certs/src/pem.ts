// PEM armour: DER bytes in and out of "-----BEGIN <label>-----" blocks (RFC 7468).

import { XdsKitError } from "@xdskit/core";

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

/** One decoded PEM block. */
export interface PemBlock {
  readonly label: string;
  readonly der: Buffer;
}

/** Every PEM block of `text`, in order (text between blocks is ignored, as openssl does). */
export function decodePemBlocks(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  for (const match of text.matchAll(PEM_BLOCK)) {
    const body = (match[2] ?? "").replace(/\s+/g, "");
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body))
      throw new XdsKitError("INVALID_ARGUMENT", `PEM block "${match[1]}" is not valid base64`);
    blocks.push({ label: match[1] ?? "", der: Buffer.from(body, "base64") });
  }
  return blocks;
}

/** The DER of every block labelled `label` ("CERTIFICATE", "CERTIFICATE REQUEST"...). */
export function derOfPem(text: string, label: string): Buffer[] {
  return decodePemBlocks(text)
    .filter((block) => block.label === label)
    .map((block) => block.der);
}

/** DER bytes as one PEM block, 64 characters a line, ending with a newline. */
export function encodePem(label: string, der: Uint8Array): string {
  const base64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString("base64");
  const lines: string[] = [];
  for (let i = 0; i < base64.length; i += 64) lines.push(base64.slice(i, i + 64));
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}
