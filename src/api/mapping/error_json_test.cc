#include "api/mapping/error_json.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace txv::api {
namespace {

TEST(RenderError, WithDetails) {
  const Error e = make_error("validation_failed", "The request has invalid fields; see details.",
                             {{"card.number", "invalid_format"}, {"transactions[3].amount", "out_of_range"}});
  EXPECT_EQ(render_error(e),
            R"({"error":{"code":"validation_failed","message":"The request has invalid fields; see details.",)"
            R"("details":[{"field":"card.number","issue":"invalid_format"},)"
            R"({"field":"transactions[3].amount","issue":"out_of_range"}]}})");
}

TEST(RenderError, EmptyDetailsAreAnEmptyArray) {
  EXPECT_EQ(render_error(make_error("not_found", "no such transaction")),
            R"({"error":{"code":"not_found","message":"no such transaction","details":[]}})");
}

TEST(RenderError, EscapesText) {
  const std::string out =
      render_error(make_error("internal", "quote \" backslash \\ newline \n", {{"metadata.a\"b", "y"}}));
  boost::system::error_code ec;
  const auto v = boost::json::parse(out, ec);
  ASSERT_FALSE(ec) << out;
  EXPECT_EQ(v.at("error").at("message"), boost::json::value("quote \" backslash \\ newline \n"));
  EXPECT_EQ(v.at("error").at("details").at(0).at("field"), boost::json::value("metadata.a\"b"));
}

TEST(ErrorObject, MatchesRenderedText) {
  const Error e = make_error("idempotency_conflict", "different request", {});
  EXPECT_EQ(boost::json::serialize(error_object(e)), render_error(e));
  EXPECT_TRUE(error_object(e).contains("error"));
}

}  // namespace
}  // namespace txv::api
