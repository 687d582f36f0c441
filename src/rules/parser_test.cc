// Lexer, parser (precedence, folding) and small pure helpers.
#include "rules/parser.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "common/text.h"
#include "rules/diagnostics.h"
#include "rules/fields.h"
#include "rules/lexer.h"

namespace txv::rules::internal {
namespace {

std::string tree(std::string_view src) {
  ParseResult r = parse(src);
  if (r.error) {
    return "error: " + r.error->message;
  }
  return debug_string(*r.root);
}

TEST(Parser, Precedence) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"a || b && c", "(|| a (&& b c))"},
      {"a && b || c", "(|| (&& a b) c)"},
      {"a || b || c || d", "(|| a b c d)"},
      {"a && b && c", "(&& a b c)"},
      {"(a || b) || c", "(|| a b c)"},
      {"a || (b || c)", "(|| a (|| b c))"},
      {"1 + 2 * 3", "(+ 1 (* 2 3))"},
      {"1 * 2 + 3", "(+ (* 1 2) 3)"},
      {"1 - 2 - 3", "(- (- 1 2) 3)"},
      {"8 / 4 / 2", "(/ (/ 8 4) 2)"},
      {"8 % 3 * 2", "(* (% 8 3) 2)"},
      {"-1 * 2", "(* -1 2)"},
      {"-a * 2", "(* (- a) 2)"},
      {"!a == b", "(== (! a) b)"},
      {"!!a", "(! (! a))"},
      {"a == b == c", "(== (== a b) c)"},
      {"a < b + 1", "(< a (+ b 1))"},
      {"a + 1 < b && c", "(&& (< (+ a 1) b) c)"},
      {"x in [1, 2] == true", "(== (in x [list 1 2]) true)"},
      {"x in list('n')", "(in x (call list 'n'))"},
      {"a.b.c(d)", "(method c (. a b) d)"},
      {"metadata['k']", "([] metadata 'k')"},
      {"velocity('card', '1h').count", "(. (call velocity 'card' '1h') count)"},
      {"- -5", "5"},
      {"-(5)", "-5"},
      {"-9223372036854775808", "-9223372036854775808"},
      {"--9223372036854775808", "(- -9223372036854775808)"},
      {"[]", "[list]"},
      {"[1,]", "[list 1]"},
      {"size(x)", "(call size x)"},
      {"f()", "(call f)"},
      {"'a\\'b'", "'a'b'"},
      {"a.in", "(. a in)"},
      {"a !=b", "(!= a b)"},
      {"a<=b", "(<= a b)"},
      {"a>=b", "(>= a b)"},
  };
  for (const auto& [src, want] : cases) {
    EXPECT_EQ(tree(src), want) << src;
  }
}

TEST(Parser, ErrorsStopAtTheFirstProblem) {
  // The lexer is driven by the parser, so a bad character after a syntax error is never reached.
  ParseResult r = parse("a > > #");
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->column, 5);
  EXPECT_FALSE(r.root);
}

TEST(Lexer, Tokens) {
  Lexer lx("amount>=10 && x in ['a'] || !y");
  std::vector<Tok> kinds;
  for (Token t = lx.next(); t.kind != Tok::kEnd; t = lx.next()) {
    ASSERT_NE(t.kind, Tok::kError) << lx.error().message;
    kinds.push_back(t.kind);
  }
  const std::vector<Tok> want = {Tok::kIdent,    Tok::kGe,     Tok::kInt,      Tok::kAnd, Tok::kIdent, Tok::kIn,
                                 Tok::kLBracket, Tok::kString, Tok::kRBracket, Tok::kOr,  Tok::kBang,  Tok::kIdent};
  EXPECT_EQ(kinds, want);
}

TEST(Lexer, PositionsAndValues) {
  Lexer lx("  'a\\nb'  42");
  Token s = lx.next();
  EXPECT_EQ(s.kind, Tok::kString);
  EXPECT_EQ(s.pos, 2U);
  EXPECT_EQ(s.end, 8U);
  EXPECT_EQ(s.text, "a\nb");
  Token n = lx.next();
  EXPECT_EQ(n.kind, Tok::kInt);
  EXPECT_EQ(n.magnitude, 42U);
  EXPECT_EQ(lx.next().kind, Tok::kEnd);
}

TEST(Diagnostics, ColumnsCountCodePoints) {
  const std::string s = "\xC3\xA9\xE2\x82\xAC x";  // é € x
  EXPECT_EQ(column_of(s, 0), 1);
  EXPECT_EQ(column_of(s, 2), 2);
  EXPECT_EQ(column_of(s, 5), 3);
  EXPECT_EQ(column_of(s, 6), 4);
  EXPECT_EQ(column_of(s, s.size()), 5);
}

TEST(Diagnostics, QuoteEscapesAndTruncates) {
  EXPECT_EQ(quote("a\nb\x01"), "'a\\nb\\x01'");
  EXPECT_EQ(quote(std::string(50, 'x')), "'" + std::string(40, 'x') + "...'");
}

TEST(Diagnostics, QuoteMasksLongDigitRunsBeforeCutting) {
  EXPECT_EQ(quote("6011593726516766x"), "'****************x'");
  EXPECT_EQ(quote("12345678901x"), "'12345678901x'");
  // The run crosses the 40-character cut: none of its digits survive.
  EXPECT_EQ(quote(std::string(30, 'a') + "4242424242424242"),
            "'" + std::string(30, 'a') + std::string(10, '*') + "...'");
}

TEST(Diagnostics, MakeErrorMasksUnquotedText) {
  const CompileError e = make_error("x", 0, "bad 601159372651 here", "(see 4242424242424242)");
  EXPECT_EQ(e.message, "bad ************ here at column 1 (see ****************)");
  EXPECT_EQ(make_error("x", 0, "bad 60115937265").message, "bad 60115937265 at column 1");
}

TEST(Text, MaskLongDigitRuns) {
  EXPECT_EQ(mask_long_digit_runs(""), "");
  EXPECT_EQ(mask_long_digit_runs("no digits"), "no digits");
  EXPECT_EQ(mask_long_digit_runs("12345678901"), "12345678901");    // 11: kept
  EXPECT_EQ(mask_long_digit_runs("123456789012"), "************");  // 12: masked
  EXPECT_EQ(mask_long_digit_runs("4242424242424242"), std::string(16, '*'));
  EXPECT_EQ(mask_long_digit_runs("literal '6011593726516766x'"), "literal '****************x'");
  EXPECT_EQ(mask_long_digit_runs("a123456789012b12c1234567890123"), "a************b12c*************");
  EXPECT_EQ(mask_long_digit_runs("4242 4242 4242 4242"), "4242 4242 4242 4242");  // separated: kept
  EXPECT_EQ(mask_long_digit_runs("\xC3\xA9"
                                 "123456789012\xE2\x82\xAC"),
            "\xC3\xA9************\xE2\x82\xAC");
  EXPECT_EQ(mask_long_digit_runs(std::string(100, '7')), std::string(100, '*'));
}

TEST(Diagnostics, Suggestions) {
  const std::vector<std::string_view> names = {"amount", "currency", "card.bin"};
  EXPECT_EQ(closest("amout", names), "amount");
  EXPECT_EQ(closest("card.bn", names), "card.bin");
  EXPECT_FALSE(closest("zzz", names));
  EXPECT_FALSE(closest("ab", names));
}

TEST(Diagnostics, Utf8Validation) {
  EXPECT_FALSE(find_invalid_utf8("plain \xC3\xA9 \xF0\x9F\x92\xB3"));
  EXPECT_EQ(find_invalid_utf8("ab\x80"), 2U);
  EXPECT_EQ(find_invalid_utf8("\xC0\xAF"), 0U);          // overlong
  EXPECT_EQ(find_invalid_utf8("x\xE0\x80\xAF"), 1U);     // overlong 3-byte
  EXPECT_EQ(find_invalid_utf8("\xED\xA0\x80"), 0U);      // surrogate
  EXPECT_EQ(find_invalid_utf8("\xF4\x90\x80\x80"), 0U);  // > U+10FFFF
  EXPECT_EQ(find_invalid_utf8("\xE2\x82"), 0U);          // truncated
}

TEST(Fields, NamesRoundTrip) {
  for (std::size_t i = 0; i < kFieldCount; ++i) {
    const auto f = static_cast<Field>(i);
    EXPECT_EQ(field_from_name(field_name(f)), f);
  }
  EXPECT_EQ(field_name(Field::kCardBin), "card.bin");
  EXPECT_FALSE(field_from_name("metadata.channel"));
  EXPECT_TRUE(is_int_field(Field::kAmount));
  EXPECT_FALSE(is_int_field(Field::kCurrency));
  for (std::size_t i = 0; i < kVelocityKeyCount; ++i) {
    const auto k = static_cast<VelocityKey>(i);
    EXPECT_EQ(velocity_key_from_name(velocity_key_name(k)), k);
  }
  EXPECT_FALSE(velocity_key_from_name("fingerprint"));
}

TEST(Fields, Durations) {
  EXPECT_EQ(parse_duration_seconds("30s"), 30);
  EXPECT_EQ(parse_duration_seconds("10m"), 600);
  EXPECT_EQ(parse_duration_seconds("1h"), 3600);
  EXPECT_EQ(parse_duration_seconds("24h"), 86400);
  EXPECT_EQ(parse_duration_seconds("7d"), 604800);
  EXPECT_EQ(parse_duration_seconds("1h30m"), 5400);
  EXPECT_EQ(parse_duration_seconds("0s"), 0);
  EXPECT_FALSE(parse_duration_seconds(""));
  EXPECT_FALSE(parse_duration_seconds("h"));
  EXPECT_FALSE(parse_duration_seconds("10"));
  EXPECT_FALSE(parse_duration_seconds("1.5h"));
  EXPECT_FALSE(parse_duration_seconds("-1h"));
  EXPECT_FALSE(parse_duration_seconds("1H"));
  EXPECT_FALSE(parse_duration_seconds("1h "));
  EXPECT_FALSE(parse_duration_seconds("99999999999999999999s"));
  EXPECT_FALSE(parse_duration_seconds("5000d"));
}

}  // namespace
}  // namespace txv::rules::internal
