#include "domain/identifiers.h"

#include <gtest/gtest.h>

#include <string>

namespace txv::domain {
namespace {

TEST(Identifiers, Id) {
  EXPECT_TRUE(is_valid_id("a"));
  EXPECT_TRUE(is_valid_id("ord-1001"));
  EXPECT_TRUE(is_valid_id("m_42:eu.west-1"));
  EXPECT_TRUE(is_valid_id("ABCxyz019._:-"));
  EXPECT_TRUE(is_valid_id(std::string(64, 'x')));
  EXPECT_FALSE(is_valid_id(std::string(65, 'x')));
  EXPECT_FALSE(is_valid_id(""));
  for (const char* s : {"a b", "a/b", "a+b", "a#b", "ä", "a\tb", "a@b", "a,b", "a\"b"}) {
    EXPECT_FALSE(is_valid_id(s)) << s;
  }
  EXPECT_FALSE(is_valid_id(std::string_view("a\0b", 3)));
}

TEST(Identifiers, IpLiterals) {
  for (const char* s : {"203.0.113.7", "0.0.0.0", "255.255.255.255", "::", "::1", "2001:db8::1",
                        "2001:0db8:0000:0000:0000:ff00:0042:8329", "fe80::1ff:fe23:4567:890a", "::ffff:192.0.2.128",
                        "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", "2001:DB8::A"}) {
    EXPECT_TRUE(is_ip_literal(s)) << s;
  }
  for (const char* s :
       {"", "256.0.0.1", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1.2.3.4 ", " 1.2.3.4", "[::1]", "::1%eth0", "fe80::1/64",
        "1.2.3.4:80", "2001:db8:::1", "2001:db8::g", "localhost", "1.2.3.-4", "12345::1", "1:2:3:4:5:6:7:8:9"}) {
    EXPECT_FALSE(is_ip_literal(s)) << s;
  }
  EXPECT_FALSE(is_ip_literal(std::string_view("1.2.3.4\0junk", 12)));
  EXPECT_FALSE(is_ip_literal(std::string(46, '1')));
}

TEST(Identifiers, Email) {
  for (const char* s : {"a@example.com", "a@b", "first.last+tag@sub.example.co.uk", "\"odd\"@example.com",
                        "用户@例子.广告", "x@[203.0.113.7]"}) {
    EXPECT_TRUE(is_valid_email(s)) << s;
  }
  for (const char* s :
       {"", "a", "@", "a@", "@b", "a@@b", "a@b@c", "a b@c", "a@b c", "a\t@b", "a@b\n", "a\x7f@b", "a\xc2\x85@b"}) {
    EXPECT_FALSE(is_valid_email(s)) << s;
  }
  // 254 characters is the limit, counted in code points.
  const std::string local(64, 'l');
  std::string at_limit = local + "@" + std::string(254 - 65, 'd');
  EXPECT_EQ(at_limit.size(), 254u);
  EXPECT_TRUE(is_valid_email(at_limit));
  EXPECT_FALSE(is_valid_email(at_limit + "d"));
  std::string multibyte = "u@";
  for (int i = 0; i < 252; ++i) multibyte += "\xc3\xa9";  // é
  EXPECT_TRUE(is_valid_email(multibyte));
  EXPECT_FALSE(is_valid_email(multibyte + "x"));
  EXPECT_FALSE(is_valid_email(std::string_view("a@b\0c", 5)));
}

TEST(Identifiers, Mcc) {
  EXPECT_TRUE(is_valid_mcc("5411"));
  EXPECT_TRUE(is_valid_mcc("0000"));
  for (const char* s : {"", "541", "54111", "54a1", " 541", "５４１１"}) EXPECT_FALSE(is_valid_mcc(s)) << s;
}

TEST(Identifiers, Utf8Length) {
  EXPECT_EQ(utf8_length(""), 0u);
  EXPECT_EQ(utf8_length("abc"), 3u);
  EXPECT_EQ(utf8_length("\xc3\xa9"), 1u);           // é
  EXPECT_EQ(utf8_length("\xe2\x82\xac"), 1u);       // €
  EXPECT_EQ(utf8_length("\xf0\x9f\x98\x80x"), 2u);  // 😀x
  EXPECT_TRUE(all_ascii_digits("0123456789"));
  EXPECT_TRUE(all_ascii_digits(""));
  EXPECT_FALSE(all_ascii_digits("12a"));
}

}  // namespace
}  // namespace txv::domain
