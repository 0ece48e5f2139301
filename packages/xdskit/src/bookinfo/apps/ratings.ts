// ratings: the stars each reviewer gave. One version, v1.
import { type RunningService, sendJson, serve } from "./http-service.js";

export interface RatingsOptions {
  readonly host?: string;
  readonly port?: number;
  readonly version?: string;
}

export const RATINGS: Readonly<Record<string, number>> = { Reviewer1: 5, Reviewer2: 4 };

export function startRatings(options: RatingsOptions = {}): Promise<RunningService> {
  return serve({ service: "ratings", version: options.version ?? "v1" }, options, (_req, res, url) => {
    const match = /^\/ratings\/(-?\d+)$/.exec(url.pathname);
    if (url.pathname === "/health") return sendJson(res, 200, { status: "Ratings is healthy" });
    if (!match) return sendJson(res, 404, { error: `no such path: ${url.pathname}` });
    sendJson(res, 200, { id: Number(match[1]), ratings: RATINGS });
  });
}
