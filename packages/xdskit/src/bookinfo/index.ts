// xdskit/bookinfo: Istio's Bookinfo on one machine — the demo behind `xdskit demo`, the four services it runs,
// and where its mesh/ and samples/ YAML are (bookinfoDir()).
export { type DetailsOptions, startDetails } from "./apps/details.js";
export type { RunningService, Upstream } from "./apps/http-service.js";
export {
  DETAILS_UNAVAILABLE,
  PAGE_TITLE,
  type ProductpageOptions,
  REVIEWS_UNAVAILABLE,
  startProductpage,
} from "./apps/productpage.js";
export { type RatingsOptions, startRatings } from "./apps/ratings.js";
export {
  RATINGS_UNAVAILABLE,
  type ReviewsOptions,
  type ReviewsVersion,
  STAR_COLOR,
  startReviews,
} from "./apps/reviews.js";
export {
  type BookinfoDemo,
  type BookinfoDemoOptions,
  bookinfoDir,
  DEFAULT_DEMO_DIR,
  type DemoState,
  demoGuide,
  runningDemo,
  startBookinfoDemo,
} from "./demo.js";
export { type BookinfoWorkload, readWorkloads } from "./workloads.js";
