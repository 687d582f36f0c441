#include "http/router.h"

#include <gtest/gtest.h>

namespace txv::http {
namespace {

Response ok(Request&) { return Response{}; }

TEST(Router, MatchesTemplatesAndDecodesParameters) {
  Router r;
  r.add("GET", "/v1/transactions/{merchant_id}/{transaction_id}", ok);
  r.add("POST", "/v1/transactions/validate", ok);
  Request req;
  req.method = "GET";
  req.path = "/v1/transactions/m%2D1/ord%3A9";
  auto m = r.match(req);
  ASSERT_EQ(m.kind, Router::MatchKind::kFound);
  EXPECT_EQ(m.route, "/v1/transactions/{merchant_id}/{transaction_id}");
  EXPECT_EQ(req.path_params["merchant_id"], "m-1");
  EXPECT_EQ(req.path_params["transaction_id"], "ord:9");
}

TEST(Router, LiteralRoutesWinByRegistrationOrder) {
  Router r;
  r.add("POST", "/v1/transactions/validate", ok);
  r.add("GET", "/v1/transactions/{merchant_id}/{transaction_id}", ok);
  Request req;
  req.method = "POST";
  req.path = "/v1/transactions/validate";
  EXPECT_EQ(r.match(req).route, "/v1/transactions/validate");
}

TEST(Router, WrongMethodIs405AndUnknownPathIs404) {
  Router r;
  r.add("POST", "/v1/transactions/validate", ok);
  Request req;
  req.method = "GET";
  req.path = "/v1/transactions/validate";
  EXPECT_EQ(r.match(req).kind, Router::MatchKind::kMethodNotAllowed);
  EXPECT_EQ(r.match(req).allow, "POST");
  req.path = "/v1/nothing";
  EXPECT_EQ(r.match(req).kind, Router::MatchKind::kNotFound);
}

TEST(Router, PercentDecode) {
  EXPECT_EQ(percent_decode("a%20b%2"), "a b%2");
  EXPECT_EQ(percent_decode("a+b", true), "a b");
  EXPECT_EQ(percent_decode("a+b"), "a+b");
  EXPECT_EQ(percent_decode("%zz"), "%zz");
}

}  // namespace
}  // namespace txv::http
