#include "http/router.h"

#include <gtest/gtest.h>

namespace txv::http {
namespace {

Task<Response> ok(Request&) { co_return Response{}; }

TEST(Router, MatchesTemplatesAndDecodesParameters) {
  Router r;
  r.add("GET", "/v1/transactions/{merchant_id}/{transaction_id}", {}, ok);
  r.add("POST", "/v1/transactions/validate", {}, ok);
  Request req;
  req.method = "GET";
  req.path = "/v1/transactions/m%2D1/ord%3A9";
  auto m = r.match(req);
  ASSERT_EQ(m.kind, Router::MatchKind::kFound);
  EXPECT_EQ(m.route, "/v1/transactions/{merchant_id}/{transaction_id}");
  EXPECT_EQ(req.route, "/v1/transactions/{merchant_id}/{transaction_id}");
  EXPECT_EQ(m.index, 0u);
  EXPECT_EQ(req.path_params["merchant_id"], "m-1");
  EXPECT_EQ(req.path_params["transaction_id"], "ord:9");
}

TEST(Router, LiteralRoutesWinByRegistrationOrder) {
  Router r;
  r.add("POST", "/v1/transactions/validate", {}, ok);
  r.add("GET", "/v1/transactions/{merchant_id}/{transaction_id}", {}, ok);
  Request req;
  req.method = "POST";
  req.path = "/v1/transactions/validate";
  EXPECT_EQ(r.match(req).route, "/v1/transactions/validate");
}

TEST(Router, WrongMethodIs405AndUnknownPathIs404) {
  Router r;
  r.add("POST", "/v1/transactions/validate", {}, ok);
  r.add("GET", "/v1/transactions/{merchant_id}", {}, ok);
  Request req;
  req.method = "GET";
  req.path = "/v1/transactions/validate";
  EXPECT_EQ(r.match(req).kind, Router::MatchKind::kFound);  // the parameter route
  req.method = "PUT";
  auto m = r.match(req);
  EXPECT_EQ(m.kind, Router::MatchKind::kMethodNotAllowed);
  EXPECT_EQ(m.allow, "GET, HEAD, POST");
  req.path = "/v1/nothing";
  EXPECT_EQ(r.match(req).kind, Router::MatchKind::kNotFound);
}

TEST(Router, HeadMatchesGetRoutes) {
  Router r;
  r.add("GET", "/livez", {}, ok);
  Request req;
  req.method = "HEAD";
  req.path = "/livez";
  EXPECT_EQ(r.match(req).kind, Router::MatchKind::kFound);
}

TEST(Router, OptionsAndHandlersByIndex) {
  Router r;
  r.add("GET", "/a", {}, ok);
  r.add("PUT", "/v1/lists/{name}", RouteOptions{0x4, 128u << 20}, ok);
  Request req;
  req.method = "PUT";
  req.path = "/v1/lists/blocked";
  auto m = r.match(req);
  ASSERT_EQ(m.kind, Router::MatchKind::kFound);
  EXPECT_EQ(m.index, 1u);
  EXPECT_EQ(m.options, &r.options(1));
  EXPECT_EQ(r.options(1).access, 0x4u);
  EXPECT_EQ(r.options(1).max_body_bytes, 128u << 20);
  EXPECT_EQ(r.options(0).max_body_bytes, 64u * 1024);
  EXPECT_EQ(r.route(1), "/v1/lists/{name}");
  EXPECT_EQ(r.size(), 2u);
}

TEST(Router, PercentDecode) {
  EXPECT_EQ(percent_decode("a%20b%2"), "a b%2");
  EXPECT_EQ(percent_decode("a+b", true), "a b");
  EXPECT_EQ(percent_decode("a+b"), "a+b");
  EXPECT_EQ(percent_decode("%zz"), "%zz");
}

}  // namespace
}  // namespace txv::http
