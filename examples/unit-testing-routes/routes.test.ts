// Unit tests for a routing config: no Envoy, no cluster — the simulator answers where a request goes.
// Run: npx vitest run --config examples/unit-testing-routes/vitest.config.ts
import { readFileSync } from "node:fs";
import { resourceFromJson, resourceTypes } from "@xdskit/core";
import { expectRoute } from "@xdskit/translate";
import { describe, it } from "vitest";
import { parse } from "yaml";

const shop = resourceFromJson(
  resourceTypes.RouteConfiguration,
  parse(readFileSync(new URL("routes.yaml", import.meta.url), "utf8")),
);
const routes = { routes: [shop] };

describe("shop routes", () => {
  it("beta testers get cart v2", () => {
    expectRoute(routes, { url: "http://api.shop.example/cart", headers: { "x-beta": "1" } }).toGo({
      cluster: "cart-v2",
    });
  });

  it("everyone else is split 90/10", () => {
    expectRoute(routes, { url: "http://api.shop.example:8080/cart/items" }).toGo({
      route: "cart",
      weightedClusters: { "cart-v1": 90, "cart-v2": 10 },
    });
  });

  it("old order URLs are rewritten for the orders service", () => {
    expectRoute(routes, { url: "http://api.shop.example/v1/orders/42?full=1" }).toGo({
      cluster: "orders",
      path: "/orders/42?full=1",
    });
  });

  it("the website is HTTPS only", () => {
    expectRoute(routes, { url: "http://www.shop.example/basket" }).toGo({
      redirect: "https://www.shop.example/basket",
    });
  });
});
