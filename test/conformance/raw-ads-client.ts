// A scripted raw ADS client for conformance tests: send exactly the requests a test names, read
// responses one by one, and assert on silence. Speaks SotW or delta on ADS or a per-type service.
import * as grpc from "@grpc/grpc-js";
import {
  DeltaDiscoveryRequest,
  DeltaDiscoveryResponse,
  DiscoveryRequest,
  DiscoveryResponse,
  type Node,
} from "@xdskit/core";

const ADS = "/envoy.service.discovery.v3.AggregatedDiscoveryService";

interface Codec<T> {
  encode(message: T): { finish(): Uint8Array };
  decode(input: Uint8Array): T;
}

/** One open stream. */
export class RawStream<Req, Res> {
  private readonly received: Res[] = [];
  private readonly waiters: Array<(r: Res) => void> = [];
  status: grpc.StatusObject | undefined;
  private readonly statusWaiters: Array<(s: grpc.StatusObject) => void> = [];

  constructor(private readonly call: grpc.ClientDuplexStream<Req, Res>) {
    call.on("data", (response: Res) => {
      const waiter = this.waiters.shift();
      if (waiter) waiter(response);
      else this.received.push(response);
    });
    call.on("status", (s: grpc.StatusObject) => {
      this.status = s;
      for (const w of this.statusWaiters.splice(0)) w(s);
    });
    call.on("error", () => {});
  }

  send(request: Req): void {
    this.call.write(request);
  }

  /** The next response; fails after timeoutMs. */
  next(timeoutMs = 3000): Promise<Res> {
    const queued = this.received.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(
          new Error(
            `no response within ${timeoutMs} ms${this.status ? ` (stream ended: ${this.status.code} ${this.status.details})` : ""}`,
          ),
        );
      }, timeoutMs);
      const waiter = (r: Res) => {
        clearTimeout(timer);
        resolve(r);
      };
      this.waiters.push(waiter);
    });
  }

  /** Resolves with whatever arrives within ms (undefined = silence, as expected). */
  async silence(ms = 300): Promise<Res | undefined> {
    try {
      return await this.next(ms);
    } catch {
      return undefined;
    }
  }

  /** The stream's final status. */
  ended(timeoutMs = 3000): Promise<grpc.StatusObject> {
    if (this.status) return Promise.resolve(this.status);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("stream did not end")), timeoutMs);
      this.statusWaiters.push((s) => {
        clearTimeout(timer);
        resolve(s);
      });
    });
  }

  close(): void {
    this.call.end();
    this.call.cancel();
  }
}

export type SotwStream = RawStream<DiscoveryRequest, DiscoveryResponse>;
export type DeltaStream = RawStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>;

/** A raw xDS client connected to one server. */
export class RawXdsClient {
  private readonly client: grpc.Client;
  private readonly streams: RawStream<unknown, unknown>[] = [];

  constructor(address: string, credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure()) {
    this.client = new grpc.Client(address, credentials, { "grpc.use_local_subchannel_pool": 1 });
  }

  private open<Req, Res>(path: string, req: Codec<Req>, res: Codec<Res>): RawStream<Req, Res> {
    const call = this.client.makeBidiStreamRequest<Req, Res>(
      path,
      (value) => Buffer.from(req.encode(value).finish()),
      (bytes) => res.decode(bytes),
    );
    const stream = new RawStream(call);
    this.streams.push(stream as RawStream<unknown, unknown>);
    return stream;
  }

  /** SotW ADS, or a per-type service's Stream<Plural> when `path` is given. */
  sotw(path = `${ADS}/StreamAggregatedResources`): SotwStream {
    return this.open(path, DiscoveryRequest, DiscoveryResponse);
  }

  /** Delta ADS, or a per-type service's Delta<Plural> when `path` is given. */
  delta(path = `${ADS}/DeltaAggregatedResources`): DeltaStream {
    return this.open(path, DeltaDiscoveryRequest, DeltaDiscoveryResponse);
  }

  close(): void {
    for (const s of this.streams) s.close();
    this.client.close();
  }
}

export function testNode(id: string, extra: Partial<Node> = {}): Node {
  return { id, cluster: "test", ...extra };
}
