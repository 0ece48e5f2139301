import { afterEach, describe, expect, it } from "vitest";
import { startDetails } from "./details.js";
import { getFrom, type RunningService, serve } from "./http-service.js";
import { DETAILS_UNAVAILABLE, PAGE_TITLE, REVIEWS_UNAVAILABLE, startProductpage } from "./productpage.js";
import { startRatings } from "./ratings.js";
import { RATINGS_UNAVAILABLE, type ReviewsVersion, startReviews } from "./reviews.js";

const running: RunningService[] = [];
const track = async (service: Promise<RunningService>) => {
  const s = await service;
  running.push(s);
  return s;
};
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
});

/** The four services wired directly (no sidecars), reviews at the given version. */
async function bookinfo(version: ReviewsVersion) {
  const ratings = await track(startRatings());
  const details = await track(startDetails());
  const reviews = await track(startReviews({ version, ratings: { url: ratings.url } }));
  const productpage = await track(startProductpage({ details: { url: details.url }, reviews: { url: reviews.url } }));
  return { ratings, details, reviews, productpage };
}

describe("Bookinfo services", () => {
  it("each says which service and version answered", async () => {
    const { ratings, details, reviews, productpage } = await bookinfo("v3");
    for (const [service, s, path] of [
      ["ratings", ratings, "/ratings/0"],
      ["details", details, "/details/0"],
      ["reviews", reviews, "/reviews/0"],
      ["productpage", productpage, "/productpage"],
    ] as const) {
      const answer = await getFrom({ url: s.url }, path, {});
      expect(answer.status, service).toBe(200);
      expect(answer.headers["x-bookinfo-service"]).toBe(service);
      expect(answer.headers["x-bookinfo-version"]).toBe(service === "reviews" ? "v3" : "v1");
    }
  });

  it("details and ratings answer JSON for a book id, 404 otherwise", async () => {
    const { ratings, details } = await bookinfo("v1");
    const d = await getFrom({ url: details.url }, "/details/7", {});
    expect(JSON.parse(d.body)).toMatchObject({ id: 7, author: "William Shakespeare", "ISBN-10": "1234567890" });
    const r = await getFrom({ url: ratings.url }, "/ratings/7", {});
    expect(JSON.parse(r.body)).toEqual({ id: 7, ratings: { Reviewer1: 5, Reviewer2: 4 } });
    expect((await getFrom({ url: ratings.url }, "/nope", {})).status).toBe(404);
  });

  it.each([
    ["v1", undefined],
    ["v2", "black"],
    ["v3", "red"],
  ] as const)("productpage with reviews %s shows %s stars", async (version, color) => {
    const { productpage } = await bookinfo(version);
    const page = await getFrom({ url: productpage.url }, "/productpage", {});
    expect(page.body).toContain(`<title>${PAGE_TITLE}</title>`);
    expect(page.body).toContain("<dt>ISBN-10</dt><dd>1234567890</dd>");
    expect(page.body).toContain(`Reviews served by: reviews-${version}`);
    const colors = [...page.body.matchAll(/data-color="(\w+)" data-stars="(\d)"/g)].map((m) => [m[1], m[2]]);
    if (color === undefined) expect(colors).toEqual([]);
    else
      expect(colors).toEqual([
        [color, "5"],
        [color, "4"],
      ]);
  });

  it("signing in sends the user as end-user to reviews and on to ratings", async () => {
    const seen: (string | undefined)[] = [];
    const ratings = await track(
      serve({ service: "ratings", version: "spy" }, {}, (req, res) => {
        seen.push(req.headers["end-user"] as string | undefined);
        res.end(JSON.stringify({ id: 0, ratings: { Reviewer1: 1, Reviewer2: 2 } }));
      }),
    );
    const details = await track(startDetails());
    const reviews = await track(startReviews({ version: "v2", ratings: { url: ratings.url } }));
    const productpage = await track(startProductpage({ details: { url: details.url }, reviews: { url: reviews.url } }));
    const login = await fetch(`${productpage.url}/login`, {
      method: "POST",
      body: new URLSearchParams({ username: "jason", passwd: "x" }),
      redirect: "manual",
    });
    expect(login.status).toBe(302);
    const cookie = login.headers.get("set-cookie")?.split(";")[0] ?? "";
    expect(cookie).toBe("user=jason");
    const page = await getFrom({ url: productpage.url }, "/productpage", { cookie });
    expect(page.body).toContain('<span id="user">jason</span>');
    expect(seen).toEqual(["jason"]);
  });

  it("shows Bookinfo's messages when ratings, reviews or details fail", async () => {
    const ratings = await track(
      serve({ service: "ratings", version: "v1" }, {}, (_req, res) => {
        res.writeHead(500).end("fault filter abort");
      }),
    );
    const reviews = await track(startReviews({ version: "v3", ratings: { url: ratings.url } }));
    const closedPort = await track(startDetails());
    await closedPort.close();
    running.pop();
    const productpage = await track(
      startProductpage({ details: { url: closedPort.url }, reviews: { url: reviews.url } }),
    );
    const page = await getFrom({ url: productpage.url }, "/productpage", {});
    expect(page.body).toContain(RATINGS_UNAVAILABLE);
    expect(page.body).toContain(DETAILS_UNAVAILABLE);
    expect(page.body).not.toContain(REVIEWS_UNAVAILABLE);

    const noReviews = await track(
      startProductpage({ details: { url: closedPort.url }, reviews: { url: closedPort.url } }),
    );
    expect((await getFrom({ url: noReviews.url }, "/productpage", {})).body).toContain(REVIEWS_UNAVAILABLE);
  });

  it("rejects missing upstreams and unknown versions with a clear error", () => {
    expect(() => startReviews({ version: "v2" })).toThrow(/options.ratings/);
    expect(() => startReviews({ version: "v9" as ReviewsVersion })).toThrow(/v1, v2 or v3/);
    expect(() => startProductpage({} as never)).toThrow(/details and options.reviews/);
  });
});
