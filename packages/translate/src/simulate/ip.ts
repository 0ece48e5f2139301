// IPv4/IPv6 addresses as numbers, for Envoy's CIDR matches (filter chain prefix ranges).

/** An address as a bigint with its family; undefined when it is not an IP literal. */
export function parseIp(text: string): { family: 4 | 6; value: bigint } | undefined {
  const address = text.startsWith("[") && text.endsWith("]") ? text.slice(1, -1) : text;
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(address);
  if (v4) {
    const parts = v4.slice(1).map(Number);
    if (parts.some((p) => p > 255)) return undefined;
    return { family: 4, value: parts.reduce((acc, p) => (acc << 8n) | BigInt(p), 0n) };
  }
  if (!address.includes(":")) return undefined;
  const [head = "", tail] = address.split("::");
  if (address.split("::").length > 2) return undefined;
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two groups.
  const embed = (groups: string[]) => {
    const last = groups[groups.length - 1];
    const v4tail = last ? parseIp(last) : undefined;
    if (v4tail?.family === 4) {
      groups.splice(-1, 1, (v4tail.value >> 16n).toString(16), (v4tail.value & 0xffffn).toString(16));
    }
    return groups;
  };
  const headGroups = embed(head === "" ? [] : head.split(":"));
  const tailGroups = tail === undefined ? [] : embed(tail === "" ? [] : tail.split(":"));
  if (tail === undefined && headGroups.length !== 8) return undefined;
  const zeros = 8 - headGroups.length - tailGroups.length;
  if (zeros < 0) return undefined;
  const groups = [...headGroups, ...Array<string>(tail === undefined ? 0 : zeros).fill("0"), ...tailGroups];
  if (groups.length !== 8 || groups.some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) return undefined;
  return { family: 6, value: groups.reduce((acc, g) => (acc << 16n) | BigInt(`0x${g}`), 0n) };
}

/** Whether `address` lies in `prefix`/`length`; false across families or for non-IP text. */
export function inCidr(address: string, prefix: string, length: number): boolean {
  const a = parseIp(address);
  const p = parseIp(prefix);
  if (!a || !p || a.family !== p.family) return false;
  const bits = a.family === 4 ? 32 : 128;
  const len = Math.max(0, Math.min(bits, length));
  if (len === 0) return true;
  const shift = BigInt(bits - len);
  return a.value >> shift === p.value >> shift;
}

/** Envoy's loopback test for source_type: exactly 127.0.0.1 or ::1 (not the rest of 127.0.0.0/8). */
export function isLoopback(address: string): boolean {
  return sameIp(address, "127.0.0.1") || sameIp(address, "::1");
}

/** 0.0.0.0 or :: (a listener bound to every address). */
export function isAnyAddress(address: string): boolean {
  const ip = parseIp(address);
  return ip !== undefined && ip.value === 0n;
}

/** Same IP address (text may differ: "::1" and "0:0::1"). */
export function sameIp(a: string, b: string): boolean {
  const x = parseIp(a);
  const y = parseIp(b);
  return x !== undefined && y !== undefined && x.family === y.family && x.value === y.value;
}
