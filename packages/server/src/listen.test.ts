import net from "node:net";
import { createSnapshotCache, XdsKitError } from "@xdskit/core";
import { afterEach, describe, expect, it, vi } from "vitest";
import { parseListenAddress } from "./listen.js";
import { createXdsServer, type XdsServer } from "./xds-server.js";

/** The XdsKitError a promise rejects with (fails the test when it resolves or rejects otherwise). */
async function refusal(promise: Promise<unknown>): Promise<XdsKitError> {
  const error = await promise.then(
    (value) => new Error(`resolved with ${String(value)}`),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(XdsKitError);
  return error as XdsKitError;
}

describe("parseListenAddress", () => {
  it("reads host:port, [ipv6]:port and unix:path", () => {
    expect(parseListenAddress("127.0.0.1:15010")).toEqual({ host: "127.0.0.1", port: 15010 });
    expect(parseListenAddress("[::1]:0")).toEqual({ host: "::1", port: 0 });
    expect(parseListenAddress("localhost:8080")).toEqual({ host: "localhost", port: 8080 });
    expect(parseListenAddress("unix:/tmp/xds.sock")).toEqual({ unixPath: "/tmp/xds.sock" });
  });

  it("refuses an address without a port, malformed ones and ports out of range, saying what to write", () => {
    const message = (address: unknown) => {
      try {
        parseListenAddress(address);
      } catch (error) {
        expect((error as XdsKitError).code).toBe("INVALID_ARGUMENT");
        return (error as Error).message;
      }
      return "accepted";
    };
    expect(message("localhost")).toBe(
      'listen("localhost"): the address has no port; write "host:port", e.g. "127.0.0.1:15010" (port 0 picks a free port)',
    );
    expect(message("[::1]")).toMatch(/^listen\("\[::1\]"\): the address has no port;/);
    expect(message("::1:15010")).toMatch(/^listen\("::1:15010"\): the address is not host:port;/);
    expect(message("localhost:")).toMatch(/the address is not host:port/);
    expect(message("127.0.0.1:70000")).toBe('listen("127.0.0.1:70000"): port 70000 is out of range (0 to 65535)');
    expect(message(15010)).toMatch(/^listen\(address\): address must be a string, got number;/);
    expect(message(null)).toMatch(/got null/);
    expect(message("unix:")).toBe('listen("unix:"): the socket path is empty');
  });
});

describe("XdsServer.listen", () => {
  let server: XdsServer | undefined;
  let blocker: net.Server | undefined;
  afterEach(async () => {
    await server?.close({ graceMs: 100 });
    blocker?.close();
    server = blocker = undefined;
    vi.restoreAllMocks();
  });

  it('refuses "localhost" without a port instead of binding 443, and listens once given one', async () => {
    server = createXdsServer({ cache: createSnapshotCache() });
    const error = await refusal(server.listen("localhost"));
    expect(error.code).toBe("INVALID_ARGUMENT");
    expect(error.message).toMatch(/the address has no port/);
    expect(await server.listen("127.0.0.1:0")).toBeGreaterThan(0);
  });

  it("refuses a second listen, naming where it already listens, also while the first is binding", async () => {
    server = createXdsServer({ cache: createSnapshotCache() });
    const first = server.listen("127.0.0.1:0");
    const concurrent = await refusal(server.listen("127.0.0.1:0"));
    expect(concurrent.code).toBe("ALREADY_LISTENING");
    expect(concurrent.message).toBe(
      'listen("127.0.0.1:0"): the server already listens on 127.0.0.1:0 (binding); one XdsServer listens on one address',
    );
    const port = await first;
    const second = await refusal(server.listen("127.0.0.1:0"));
    expect(second.code).toBe("ALREADY_LISTENING");
    expect(second.message).toMatch(new RegExp(`already listens on 127\\.0\\.0\\.1:${port};`));
  });

  it("refuses listen after close with CLOSED", async () => {
    server = createXdsServer({ cache: createSnapshotCache() });
    await server.listen("127.0.0.1:0");
    await server.close({ graceMs: 100 });
    const error = await refusal(server.listen("127.0.0.1:0"));
    expect(error.code).toBe("CLOSED");
    expect(error.message).toBe('listen("127.0.0.1:0"): the server was closed; create a new XdsServer to listen again');
  });

  it("refuses a busy port with ADDRESS_IN_USE and nothing printed on stderr", async () => {
    blocker = net.createServer();
    await new Promise<void>((resolve) => blocker?.listen(0, "127.0.0.1", resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    const stderr = vi.spyOn(process.stderr, "write");
    const consoleError = vi.spyOn(console, "error");
    server = createXdsServer({ cache: createSnapshotCache() });
    const error = await refusal(server.listen(`127.0.0.1:${port}`));
    expect(error.code).toBe("ADDRESS_IN_USE");
    expect(error.message).toBe(
      `cannot listen on 127.0.0.1:${port}: port ${port} is already in use on 127.0.0.1 (EADDRINUSE)`,
    );
    expect(stderr).not.toHaveBeenCalled();
    expect(consoleError).not.toHaveBeenCalled();
    // Refused before binding anything: the same server can still listen elsewhere.
    expect(await server.listen("127.0.0.1:0")).toBeGreaterThan(0);
  });

  it("reports other bind failures as INVALID_ARGUMENT with the system's reason", async () => {
    server = createXdsServer({ cache: createSnapshotCache() });
    const stderr = vi.spyOn(process.stderr, "write");
    const error = await refusal(server.listen("192.0.2.1:0")); // TEST-NET-1: an address no host here has
    expect(error.code).toBe("INVALID_ARGUMENT");
    expect(error.message).toBe("cannot listen on 192.0.2.1:0: listen EADDRNOTAVAIL: address not available 192.0.2.1");
    expect(stderr).not.toHaveBeenCalled();
  });
});
