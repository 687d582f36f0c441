#include "api/mapping/canonical_json.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>

namespace txv::api {
namespace {

namespace json = boost::json;

json::value parse(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  EXPECT_FALSE(ec) << text;
  return v;
}

std::string canon(std::string_view text) { return canonical_json(parse(text)); }

TEST(CanonicalJson, SortsKeysAndDropsWhitespace) {
  EXPECT_EQ(canon(R"( { "b" : 1 , "a" : [ 1 , 2 ] , "c" : { "z" : null , "y" : true } } )"),
            R"({"a":[1,2],"b":1,"c":{"y":true,"z":null}})");
}

TEST(CanonicalJson, KeyOrderAndSpacingDoNotMatter) {
  const char* a = R"({"transaction_id":"ord-1","amount":100,"card":{"number":"4242424242424242","expiry_month":1}})";
  const char* b =
      "{\n  \"card\": {\"expiry_month\": 1, \"number\": \"4242424242424242\"},\n"
      "  \"amount\": 100,\n  \"transaction_id\": \"ord-1\"\n}";
  EXPECT_EQ(canon(a), canon(b));
}

TEST(CanonicalJson, DifferentValuesDiffer) {
  EXPECT_NE(canon(R"({"amount":100})"), canon(R"({"amount":101})"));
  EXPECT_NE(canon(R"({"a":"1"})"), canon(R"({"a":1})"));
  EXPECT_NE(canon(R"({"a":[1,2]})"), canon(R"({"a":[2,1]})"));  // arrays keep order
  EXPECT_NE(canon(R"({"a":null})"), canon(R"({})"));
}

TEST(CanonicalJson, KeysSortByUtf8Bytes) {
  // "Z" (0x5A) < "a" (0x61) < "é" (0xC3 0xA9) < "😀" (0xF0 ...); "ab" after "a".
  EXPECT_EQ(canon(R"({"😀":4,"é":3,"ab":2,"a":1,"Z":0})"), R"({"Z":0,"a":1,"ab":2,"é":3,"😀":4})");
  // U+FFFD (EF BF BD) sorts before U+1F600 in UTF-8 although UTF-16 would put it after.
  EXPECT_EQ(canon(R"({"\ud83d\ude00":1,"\ufffd":2})"), "{\"\xef\xbf\xbd\":2,\"\xf0\x9f\x98\x80\":1}");
}

TEST(CanonicalJson, NestedObjectsAreSortedToo) {
  EXPECT_EQ(canon(R"([{"b":{"d":1,"c":2},"a":0},{"y":[{"k2":1,"k1":2}]}])"),
            R"([{"a":0,"b":{"c":2,"d":1}},{"y":[{"k1":2,"k2":1}]}])");
}

TEST(CanonicalJson, StringEscapes) {
  // Escaped and literal forms of the same characters give the same text.
  EXPECT_EQ(canon(R"(["\u00e9", "é", "\u20ac", "\ud83d\ude00", "\/"])"), "[\"é\",\"é\",\"€\",\"😀\",\"/\"]");
  EXPECT_EQ(canon(R"(["\"\\", "\b\f\n\r\t", "\u0000\u0001\u001f", "\u007f", "\u2028"])"),
            "[\"\\\"\\\\\",\"\\b\\f\\n\\r\\t\",\"\\u0000\\u0001\\u001f\",\"\x7f\",\"\xe2\x80\xa8\"]");
  EXPECT_EQ(canon(R"({"k\n":"v"})"), R"({"k\n":"v"})");
}

TEST(CanonicalJson, Integers) {
  EXPECT_EQ(canon("[0, -0, 1, -1, 1000000000000000, 9223372036854775807, -9223372036854775808]"),
            "[0,0,1,-1,1000000000000000,9223372036854775807,-9223372036854775808]");
  EXPECT_EQ(canon("18446744073709551615"), "18446744073709551615");
}

TEST(CanonicalJson, DoublesInShortestEcmaScriptForm) {
  EXPECT_EQ(canon("1.0"), "1");
  EXPECT_EQ(canon("1e0"), "1");
  EXPECT_EQ(canon("1.5"), "1.5");
  EXPECT_EQ(canon("-0.0"), "0");
  EXPECT_EQ(canon("0.1"), "0.1");
  EXPECT_EQ(canon("12.50"), "12.5");
  EXPECT_EQ(canon("1e3"), "1000");
  // Built directly: Boost.JSON 1.81 parses some long decimals to a neighbouring double.
  EXPECT_EQ(canonical_json(json::value(1.2345678901234568e20)), "123456789012345680000");
  EXPECT_EQ(canon("1e21"), "1e+21");
  EXPECT_EQ(canon("1.5e300"), "1.5e+300");
  EXPECT_EQ(canon("0.000001"), "0.000001");
  EXPECT_EQ(canon("0.0000001"), "1e-7");
  EXPECT_EQ(canon("-1.25e-10"), "-1.25e-10");
  EXPECT_EQ(canon("5e-324"), "5e-324");
  EXPECT_EQ(canon("1.7976931348623157e308"), "1.7976931348623157e+308");
  EXPECT_EQ(canon("0.30000000000000004"), "0.30000000000000004");
  EXPECT_EQ(canon("1e400"), "1e999");
  EXPECT_EQ(canon("-1e400"), "-1e999");
  // An integral double is the same number as the integer.
  EXPECT_EQ(canon(R"({"a":100.0})"), canon(R"({"a":100})"));
  EXPECT_EQ(canonical_json(json::value(std::nan(""))), "null");
}

TEST(CanonicalJson, Literals) { EXPECT_EQ(canon("[true,false,null,{},[],\"\"]"), R"([true,false,null,{},[],""])"); }

TEST(CanonicalJson, CanonicalFormIsAFixedPoint) {
  const char* text = R"({"z":[1.5,"é\n",{"b":null,"a":-2}],"a":{"y":1e21,"x":0.1}})";
  const std::string once = canon(text);
  EXPECT_EQ(canon(once), once);
}

}  // namespace
}  // namespace txv::api
