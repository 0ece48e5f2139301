// productpage: the page users see, "Simple Bookstore App". Calls details and reviews (with the signed-in user in
// the `end-user` header, which routing rules match on) and renders what they answered, or why not.
import type http from "node:http";
import {
  getFrom,
  headersToPropagate,
  type RunningService,
  sendJson,
  serve,
  type Upstream,
  type UpstreamResponse,
} from "./http-service.js";
import type { Review } from "./reviews.js";

export interface ProductpageOptions {
  readonly host?: string;
  readonly port?: number;
  readonly version?: string;
  /** Where details is reached. Default authority "details:9080". */
  readonly details: Upstream;
  /** Where reviews is reached. Default authority "reviews:9080", timeout 3 s (tried twice). */
  readonly reviews: Upstream;
}

export const PAGE_TITLE = "Simple Bookstore App";
export const DETAILS_UNAVAILABLE = "Sorry, product details are currently unavailable for this book.";
export const REVIEWS_UNAVAILABLE = "Sorry, product reviews are currently unavailable for this book.";
const BOOK = { id: 0, title: "The Comedy of Errors" };

const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c);

/** The signed-in user from the `user` cookie, if any. */
function userOf(req: http.IncomingMessage): string | undefined {
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const [name, ...value] = part.trim().split("=");
    if (name === "user" && value.length > 0) return decodeURIComponent(value.join("="));
  }
  return undefined;
}

function parseJson<T>(answer: UpstreamResponse): T | undefined {
  if (answer.status !== 200) return undefined;
  try {
    return JSON.parse(answer.body) as T;
  } catch {
    return undefined;
  }
}

function renderDetails(details: Record<string, unknown> | undefined): string {
  if (!details) return `<p class="error" id="details-error">${DETAILS_UNAVAILABLE}</p>`;
  const rows = ["type", "pages", "publisher", "language", "ISBN-10", "ISBN-13"]
    .map((key) => `<dt>${escapeHtml(key)}</dt><dd>${escapeHtml(String(details[key] ?? ""))}</dd>`)
    .join("");
  return `<h4>Book Details</h4><dl id="details">${rows}</dl>`;
}

function renderReviews(reviews: { reviews?: Review[] } | undefined, servedBy: string | undefined): string {
  if (!reviews?.reviews) return `<p class="error" id="reviews-error">${REVIEWS_UNAVAILABLE}</p>`;
  const items = reviews.reviews.map((review) => {
    let rating = "";
    if (review.rating?.error) rating = `<p class="rating-error">${escapeHtml(review.rating.error)}</p>`;
    else if (review.rating?.stars !== undefined) {
      const color = escapeHtml(review.rating.color ?? "black");
      const stars = Array.from({ length: 5 }, (_, i) =>
        i < (review.rating?.stars ?? 0) ? `<span class="star" style="color: ${color}">&#9733;</span>` : "&#9734;",
      ).join("");
      rating = `<p class="stars" data-color="${color}" data-stars="${review.rating.stars}">${stars}</p>`;
    }
    return `<blockquote><p>${escapeHtml(review.text)}</p><small>${escapeHtml(review.reviewer)}</small>${rating}</blockquote>`;
  });
  const footer = servedBy ? `<p id="served-by">Reviews served by: ${escapeHtml(servedBy)}</p>` : "";
  return `<h4>Book Reviews</h4><div id="reviews">${items.join("")}</div>${footer}`;
}

function page(user: string | undefined, details: string, reviews: string): string {
  const session = user
    ? `<span id="user">${escapeHtml(user)}</span> <a href="/logout">sign out</a>`
    : `<form method="post" action="/login"><input name="username" placeholder="User Name"><input name="passwd" type="password" placeholder="Password"><button>Sign in</button></form>`;
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>${PAGE_TITLE}</title></head>
<body>
<nav><a href="/productpage">BookInfo Sample</a> ${session}</nav>
<h3>${BOOK.title}</h3>
<p>Summary: a comedy of two pairs of twins separated at birth, and a day of mistaken identities.</p>
<div class="details">${details}</div>
<div class="reviews">${reviews}</div>
</body></html>
`;
}

async function readBody(req: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

export function startProductpage(options: ProductpageOptions): Promise<RunningService> {
  if (!options?.details || !options.reviews)
    throw new Error("productpage: options.details and options.reviews (where those services are) are required");
  const details: Upstream = { authority: "details:9080", ...options.details };
  const reviews: Upstream = { authority: "reviews:9080", timeoutMs: 3_000, ...options.reviews };
  return serve({ service: "productpage", version: options.version ?? "v1" }, options, async (req, res, url) => {
    if (url.pathname === "/health") return sendJson(res, 200, { status: "Productpage is healthy" });
    if (url.pathname === "/login" && req.method === "POST") {
      const user = new URLSearchParams(await readBody(req)).get("username") ?? "";
      res.writeHead(302, { location: "/productpage", "set-cookie": `user=${encodeURIComponent(user)}; Path=/` });
      return void res.end();
    }
    if (url.pathname === "/logout") {
      res.writeHead(302, { location: "/productpage", "set-cookie": "user=; Path=/; Max-Age=0" });
      return void res.end();
    }
    if (url.pathname === "/") {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      return void res.end(
        `<!DOCTYPE html><html><head><title>${PAGE_TITLE}</title></head><body><a href="/productpage">Normal user</a></body></html>\n`,
      );
    }
    if (url.pathname !== "/productpage") return sendJson(res, 404, { error: `no such path: ${url.pathname}` });
    const user = userOf(req);
    const headers = { ...headersToPropagate(req), ...(user ? { "end-user": user } : {}) };
    const [detailsAnswer, reviewsAnswer] = await Promise.all([
      getFrom(details, `/details/${BOOK.id}`, headers),
      // Like Bookinfo's productpage: one retry when reviews does not answer in time.
      getFrom(reviews, `/reviews/${BOOK.id}`, headers).then((first) =>
        first.status === 0 ? getFrom(reviews, `/reviews/${BOOK.id}`, headers) : first,
      ),
    ]);
    const reviewsBody = parseJson<{ reviews?: Review[]; podname?: string }>(reviewsAnswer);
    const reviewsVersion = reviewsAnswer.headers["x-bookinfo-version"];
    const servedBy = typeof reviewsVersion === "string" ? `reviews-${reviewsVersion}` : reviewsBody?.podname;
    const html = page(user, renderDetails(parseJson(detailsAnswer)), renderReviews(reviewsBody, servedBy));
    res.writeHead(200, { "content-type": "text/html; charset=utf-8", "content-length": Buffer.byteLength(html) });
    res.end(html);
  });
}
