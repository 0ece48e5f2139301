// reviews: two reviews of the book. v1 shows no stars; v2 asks ratings and shows black stars; v3 red stars.
import { getFrom, headersToPropagate, type RunningService, sendJson, serve, type Upstream } from "./http-service.js";

export type ReviewsVersion = "v1" | "v2" | "v3";

export interface ReviewsOptions {
  readonly host?: string;
  readonly port?: number;
  readonly version: ReviewsVersion;
  /** Where ratings is reached (v2 and v3 only). Default authority "ratings:9080". */
  readonly ratings?: Upstream;
}

/** The colour of the stars a version shows; v1 shows none. */
export const STAR_COLOR: Readonly<Record<ReviewsVersion, string | undefined>> = {
  v1: undefined,
  v2: "black",
  v3: "red",
};

export const RATINGS_UNAVAILABLE = "Ratings service is currently unavailable";

const REVIEWS = [
  { reviewer: "Reviewer1", text: "A whirlwind of mistaken identities; I laughed from the first scene to the last." },
  { reviewer: "Reviewer2", text: "Great fun on stage, though lighter in its themes than the later plays." },
];

export interface Review {
  reviewer: string;
  text: string;
  rating?: { stars?: number; color?: string; error?: string };
}

export function startReviews(options: ReviewsOptions): Promise<RunningService> {
  const color = STAR_COLOR[options.version];
  if (!(options.version in STAR_COLOR))
    throw new Error(`reviews: version must be v1, v2 or v3, got ${JSON.stringify(options.version)}`);
  if (color && !options.ratings)
    throw new Error(`reviews ${options.version}: options.ratings (where ratings is) is required`);
  const ratings: Upstream | undefined = options.ratings ? { authority: "ratings:9080", ...options.ratings } : undefined;
  return serve({ service: "reviews", version: options.version }, options, async (req, res, url) => {
    const match = /^\/reviews\/(-?\d+)$/.exec(url.pathname);
    if (url.pathname === "/health") return sendJson(res, 200, { status: "Reviews is healthy" });
    if (!match) return sendJson(res, 404, { error: `no such path: ${url.pathname}` });
    const id = Number(match[1]);
    const reviews: Review[] = REVIEWS.map((r) => ({ ...r }));
    if (color && ratings) {
      const answer = await getFrom(ratings, `/ratings/${id}`, headersToPropagate(req));
      let stars: Record<string, number> | undefined;
      if (answer.status === 200) {
        try {
          stars = (JSON.parse(answer.body) as { ratings?: Record<string, number> }).ratings;
        } catch {
          stars = undefined;
        }
      }
      for (const review of reviews) {
        const count = stars?.[review.reviewer];
        review.rating = count === undefined ? { error: RATINGS_UNAVAILABLE } : { stars: count, color };
      }
    }
    sendJson(res, 200, { id, podname: `reviews-${options.version}`, clustername: "null", reviews });
  });
}
