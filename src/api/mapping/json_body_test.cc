#include "api/mapping/json_body.h"

#include <gtest/gtest.h>

#include <string>

namespace txv::api {
namespace {

TEST(ParseJsonStrict, ParsesNestedValues) {
  auto v = parse_json_strict(R"({"a":[1,-2,3.5,"x",true,null],"b":{"c":{"d":18446744073709551615}}})");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->at("a").as_array().size(), 6u);
  EXPECT_EQ(v->at("a").as_array()[1].as_int64(), -2);
  EXPECT_EQ(v->at("b").at("c").at("d").as_uint64(), 18446744073709551615ull);
}

TEST(ParseJsonStrict, RefusesARepeatedKeyAtAnyDepth) {
  for (const char* text :
       {R"({"a":1,"a":2})", R"({"x":{"a":1,"b":2,"a":1}})", R"([{"k":1},{"k":1,"k":1}])", R"({"\u0061":1,"a":2})"}) {
    auto v = parse_json_strict(text);
    ASSERT_FALSE(v.ok()) << text;
    EXPECT_EQ(v.error().code, "malformed_json");
    EXPECT_NE(v.error().message.find("repeated key"), std::string::npos) << text;
  }
}

TEST(ParseJsonStrict, TheSameKeyInSiblingObjectsIsFine) {
  EXPECT_TRUE(parse_json_strict(R"([{"k":1},{"k":2}])").ok());
  EXPECT_TRUE(parse_json_strict(R"({"a":{"k":1},"b":{"k":2},"k":3})").ok());
}

TEST(ParseJsonStrict, LargeObjectsAreCheckedToo) {
  std::string text = "{";
  for (int i = 0; i < 5000; ++i) text += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
  std::string unique = text;
  unique.back() = '}';
  auto ok = parse_json_strict(unique);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->as_object().size(), 5000u);
  text += "\"k4321\":0}";
  EXPECT_FALSE(parse_json_strict(text).ok());
}

TEST(ParseJsonStrict, RefusesMalformedEmptyAndTrailingText) {
  for (const char* text : {"", " ", "{", R"({"a":1} x)", R"({"a":1}{})", "[1,]", "nul"}) {
    auto v = parse_json_strict(text);
    ASSERT_FALSE(v.ok()) << text;
    EXPECT_EQ(v.error().code, "malformed_json");
  }
  EXPECT_TRUE(parse_json_strict(" [1, 2] \n").ok());
}

TEST(ParseJsonStrict, RefusesDeepNesting) {
  std::string deep(100, '[');
  deep += std::string(100, ']');
  EXPECT_FALSE(parse_json_strict(deep).ok());
  std::string shallow(60, '[');
  shallow += std::string(60, ']');
  EXPECT_TRUE(parse_json_strict(shallow).ok());
}

}  // namespace
}  // namespace txv::api
