// Runs one Bookinfo service:  node --import tsx packages/xdskit/src/bookinfo/apps/main.ts reviews --version v2 \
//   --port 9081 --ratings http://127.0.0.1:9080
import { parseArgs } from "node:util";
import { startDetails } from "./details.js";
import type { RunningService, Upstream } from "./http-service.js";
import { startProductpage } from "./productpage.js";
import { startRatings } from "./ratings.js";
import { type ReviewsVersion, startReviews } from "./reviews.js";

const USAGE =
  "usage: main.ts productpage|details|reviews|ratings [--host H] [--port P] [--version v1|v2|v3] [--details URL] [--reviews URL] [--ratings URL]";

export function startService(name: string, flags: Record<string, string | undefined>): Promise<RunningService> {
  const common = { host: flags.host, port: flags.port === undefined ? undefined : Number(flags.port) };
  if (common.port !== undefined && !Number.isInteger(common.port))
    throw new Error(`--port must be a number, got ${flags.port}`);
  const upstream = (flag: string): Upstream => {
    const url = flags[flag];
    if (!url) throw new Error(`${name} needs --${flag} URL (where ${flag} is reached)`);
    return { url };
  };
  switch (name) {
    case "details":
      return startDetails({ ...common, version: flags.version });
    case "ratings":
      return startRatings({ ...common, version: flags.version });
    case "reviews":
      return startReviews({
        ...common,
        version: (flags.version ?? "v1") as ReviewsVersion,
        ...(flags.version && flags.version !== "v1" ? { ratings: upstream("ratings") } : {}),
      });
    case "productpage":
      return startProductpage({
        ...common,
        version: flags.version,
        details: upstream("details"),
        reviews: upstream("reviews"),
      });
    default:
      throw new Error(`unknown service ${JSON.stringify(name)}; ${USAGE}`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    const { positionals, values } = parseArgs({
      allowPositionals: true,
      options: Object.fromEntries(
        ["host", "port", "version", "details", "reviews", "ratings"].map((n) => [n, { type: "string" as const }]),
      ),
    });
    const service = await startService(positionals[0] ?? "", values as Record<string, string | undefined>);
    console.log(`${positionals[0]} ${values.version ?? "v1"} listening on ${service.url}`);
    const stop = () => void service.close().then(() => process.exit(0));
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  } catch (error) {
    console.error((error as Error).message);
    process.exit(1);
  }
}
