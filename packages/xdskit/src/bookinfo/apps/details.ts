// details: the book's facts (author, year, ISBN...). One version, v1.
import { type RunningService, sendJson, serve } from "./http-service.js";

export interface DetailsOptions {
  readonly host?: string;
  readonly port?: number;
  readonly version?: string;
}

export function bookDetails(id: number) {
  return {
    id,
    author: "William Shakespeare",
    year: 1595,
    type: "paperback",
    pages: 200,
    publisher: "PublisherA",
    language: "English",
    "ISBN-10": "1234567890",
    "ISBN-13": "123-1234567890",
  };
}

export function startDetails(options: DetailsOptions = {}): Promise<RunningService> {
  return serve({ service: "details", version: options.version ?? "v1" }, options, (_req, res, url) => {
    const match = /^\/details\/(-?\d+)$/.exec(url.pathname);
    if (url.pathname === "/health") return sendJson(res, 200, { status: "Details is healthy" });
    if (!match) return sendJson(res, 404, { error: `no such path: ${url.pathname}` });
    sendJson(res, 200, bookDetails(Number(match[1])));
  });
}
