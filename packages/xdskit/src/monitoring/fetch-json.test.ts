import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fetchMonitoringJson } from "./fetch-json.js";

class Refused extends Error {}
const options = { timeoutMs: 2000, flag: "--monitoring", fail: (message: string) => new Refused(message) };

describe("fetchMonitoringJson", () => {
  let server: http.Server;
  let base: string;
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      if (req.url === "/ok") res.end('[{"proxy":"a"}]');
      else if (req.url === "/text") res.end("not json");
      else res.writeHead(503).end("warming up\n");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("parses a JSON answer", async () => {
    expect(await fetchMonitoringJson(`${base}/ok`, options)).toEqual([{ proxy: "a" }]);
  });

  it("names the status and body of an error answer, and a body that is not JSON, with the caller's error", async () => {
    await expect(fetchMonitoringJson(`${base}/busy`, options)).rejects.toThrow(
      new Refused(`${base}/busy answered 503: warming up`),
    );
    await expect(fetchMonitoringJson(`${base}/text`, options)).rejects.toThrow(
      new Refused(`${base}/text did not answer JSON`),
    );
  });

  it("says the address cannot be reached and which option names it", async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/debug/syncz`;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const error = await fetchMonitoringJson(url, options).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Refused);
    expect((error as Error).message).toMatch(
      /^cannot reach .*\/debug\/syncz \(.+\): is the control plane running\? \(--monitoring\)$/,
    );
  });
});
