// Lexer: turns expression text into tokens, on demand (so that the first error
// reported is the leftmost one the parser reaches). Internal to txv_rules.
//
// Input must already be valid UTF-8 (compile() checks that first). Whitespace
// is space, tab, CR and LF. Errors (bad characters, unterminated strings, bad
// escapes, out-of-range integers, floating-point literals) are returned as a
// token of kind kError; error() then holds the CompileError.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "rules/error.h"

namespace txv::rules::internal {

enum class Tok : std::uint8_t {
  kEnd,
  kError,
  kInt,
  kString,
  kIdent,
  kTrue,
  kFalse,
  kIn,
  kLParen,
  kRParen,
  kLBracket,
  kRBracket,
  kComma,
  kDot,
  kPlus,
  kMinus,
  kStar,
  kSlash,
  kPercent,
  kBang,
  kEq,
  kNe,
  kLt,
  kLe,
  kGt,
  kGe,
  kAnd,
  kOr,
};

struct Token {
  Tok kind = Tok::kEnd;
  std::size_t pos = 0;  // byte offset of the first character
  std::size_t end = 0;  // byte offset one past the last character
  // kString: the decoded value; kIdent: the name.
  std::string text;
  // kInt: the literal's magnitude, at most 2^63 (2^63 itself is only valid
  // directly after a unary minus; the parser checks that).
  std::uint64_t magnitude = 0;
};

class Lexer {
 public:
  explicit Lexer(std::string_view src) : src_(src) {}
  Token next();
  // Valid after next() returned a kError token.
  const CompileError& error() const { return error_; }

 private:
  Token fail(std::size_t pos, std::string_view what, std::string_view hint = {});
  Token lex_number(std::size_t start);
  Token lex_string(std::size_t start);

  std::string_view src_;
  std::size_t i_ = 0;
  CompileError error_;
};

// How a token kind is named in messages: "')'", "'&&'", "a string", ...
std::string_view describe(Tok kind);
// How a particular token is named in messages: its source text, quoted, or "end of expression".
std::string describe(std::string_view src, const Token& token);

}  // namespace txv::rules::internal
