#include "rules/lexer.h"

#include "rules/diagnostics.h"

namespace txv::rules::internal {
namespace {

constexpr std::uint64_t kMaxMagnitude = 9223372036854775808ULL;  // 2^63

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_ident_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_ident_char(char c) { return is_ident_start(c) || is_digit(c); }

// Length in bytes of the UTF-8 sequence starting with `c` (input is valid UTF-8).
std::size_t utf8_length(unsigned char c) {
  if (c < 0x80) {
    return 1;
  }
  if (c >= 0xF0) {
    return 4;
  }
  if (c >= 0xE0) {
    return 3;
  }
  return 2;
}

}  // namespace

Token Lexer::fail(std::size_t pos, std::string_view what, std::string_view hint) {
  error_ = make_error(src_, pos, what, hint);
  Token t;
  t.kind = Tok::kError;
  t.pos = pos;
  t.end = pos;
  i_ = src_.size();  // nothing after an error is meaningful
  return t;
}

Token Lexer::next() {
  while (i_ < src_.size() && (src_[i_] == ' ' || src_[i_] == '\t' || src_[i_] == '\n' || src_[i_] == '\r')) {
    ++i_;
  }
  Token t;
  t.pos = i_;
  if (i_ >= src_.size()) {
    t.kind = Tok::kEnd;
    t.end = i_;
    return t;
  }
  const char c = src_[i_];
  const char n = i_ + 1 < src_.size() ? src_[i_ + 1] : '\0';
  auto single = [&](Tok k) {
    t.kind = k;
    t.end = ++i_;
    return t;
  };
  auto pair = [&](Tok k) {
    t.kind = k;
    i_ += 2;
    t.end = i_;
    return t;
  };
  if (is_digit(c)) {
    return lex_number(i_);
  }
  if (c == '\'' || c == '"') {
    return lex_string(i_);
  }
  if (is_ident_start(c)) {
    std::size_t j = i_;
    while (j < src_.size() && is_ident_char(src_[j])) {
      ++j;
    }
    t.text.assign(src_.substr(i_, j - i_));
    t.end = j;
    i_ = j;
    if (t.text == "true") {
      t.kind = Tok::kTrue;
    } else if (t.text == "false") {
      t.kind = Tok::kFalse;
    } else if (t.text == "in") {
      t.kind = Tok::kIn;
    } else {
      t.kind = Tok::kIdent;
    }
    return t;
  }
  switch (c) {
    case '(':
      return single(Tok::kLParen);
    case ')':
      return single(Tok::kRParen);
    case '[':
      return single(Tok::kLBracket);
    case ']':
      return single(Tok::kRBracket);
    case ',':
      return single(Tok::kComma);
    case '.':
      return single(Tok::kDot);
    case '+':
      return single(Tok::kPlus);
    case '-':
      return single(Tok::kMinus);
    case '*':
      return single(Tok::kStar);
    case '/':
      return single(Tok::kSlash);
    case '%':
      return single(Tok::kPercent);
    case '!':
      return n == '=' ? pair(Tok::kNe) : single(Tok::kBang);
    case '<':
      return n == '=' ? pair(Tok::kLe) : single(Tok::kLt);
    case '>':
      return n == '=' ? pair(Tok::kGe) : single(Tok::kGt);
    case '=':
      if (n == '=') {
        return pair(Tok::kEq);
      }
      return fail(i_, "unexpected '='", "(did you mean '=='?)");
    case '&':
      if (n == '&') {
        return pair(Tok::kAnd);
      }
      return fail(i_, "unexpected '&'", "(did you mean '&&'?)");
    case '|':
      if (n == '|') {
        return pair(Tok::kOr);
      }
      return fail(i_, "unexpected '|'", "(did you mean '||'?)");
    case '?':
    case ':':
      return fail(i_, "the conditional operator '? :' is not supported");
    case '{':
    case '}':
      return fail(i_, "maps are not supported");
    default:
      break;
  }
  const std::size_t len = utf8_length(static_cast<unsigned char>(c));
  return fail(i_, "unexpected character " + quote(src_.substr(i_, len)));
}

Token Lexer::lex_number(std::size_t start) {
  std::size_t j = start;
  std::uint64_t value = 0;
  bool overflow = false;
  while (j < src_.size() && is_digit(src_[j])) {
    const auto d = static_cast<std::uint64_t>(src_[j] - '0');
    if (value > (kMaxMagnitude - d) / 10) {
      overflow = true;
    } else {
      value = value * 10 + d;
    }
    ++j;
  }
  if (j + 1 < src_.size() && src_[j] == '.' && is_digit(src_[j + 1])) {
    return fail(start, "floating-point numbers are not supported", "(amounts are integers in minor units, e.g. 1050)");
  }
  if (j < src_.size() && is_ident_char(src_[j])) {
    std::size_t k = j;
    while (k < src_.size() && is_ident_char(src_[k])) {
      ++k;
    }
    const std::string_view text = src_.substr(start, k - start);
    if (text.size() > 1 && (text[1] == 'x' || text[1] == 'X')) {
      return fail(start, "invalid integer literal " + quote(text), "(only decimal integers are supported)");
    }
    return fail(start, "invalid integer literal " + quote(text),
                "(durations are strings, e.g. velocity('card', '10m'))");
  }
  if (overflow) {
    return fail(start, "integer literal " + quote(src_.substr(start, j - start)) + " is out of range",
                "(integers are 64-bit)");
  }
  Token t;
  t.kind = Tok::kInt;
  t.pos = start;
  t.end = j;
  t.magnitude = value;
  i_ = j;
  return t;
}

Token Lexer::lex_string(std::size_t start) {
  const char q = src_[start];
  std::size_t j = start + 1;
  Token t;
  t.kind = Tok::kString;
  t.pos = start;
  while (true) {
    if (j >= src_.size() || src_[j] == '\n' || src_[j] == '\r') {
      return fail(start, "unterminated string", j >= src_.size() ? "" : "(strings cannot span lines; use \\n)");
    }
    const char c = src_[j];
    if (c == q) {
      ++j;
      break;
    }
    if (c != '\\') {
      t.text.push_back(c);
      ++j;
      continue;
    }
    if (j + 1 >= src_.size()) {
      return fail(start, "unterminated string");
    }
    const char e = src_[j + 1];
    switch (e) {
      case '\'':
        t.text.push_back('\'');
        break;
      case '"':
        t.text.push_back('"');
        break;
      case '\\':
        t.text.push_back('\\');
        break;
      case 'n':
        t.text.push_back('\n');
        break;
      case 'r':
        t.text.push_back('\r');
        break;
      case 't':
        t.text.push_back('\t');
        break;
      default: {
        const std::size_t len = utf8_length(static_cast<unsigned char>(e));
        return fail(j, "unknown escape sequence " + quote(src_.substr(j, 1 + len)) + " in string",
                    "(supported: \\' \\\" \\\\ \\n \\r \\t)");
      }
    }
    j += 2;
  }
  t.end = j;
  i_ = j;
  return t;
}

std::string_view describe(Tok kind) {
  switch (kind) {
    case Tok::kEnd:
      return "end of expression";
    case Tok::kError:
      return "an invalid token";
    case Tok::kInt:
      return "an integer";
    case Tok::kString:
      return "a string";
    case Tok::kIdent:
      return "a name";
    case Tok::kTrue:
      return "'true'";
    case Tok::kFalse:
      return "'false'";
    case Tok::kIn:
      return "'in'";
    case Tok::kLParen:
      return "'('";
    case Tok::kRParen:
      return "')'";
    case Tok::kLBracket:
      return "'['";
    case Tok::kRBracket:
      return "']'";
    case Tok::kComma:
      return "','";
    case Tok::kDot:
      return "'.'";
    case Tok::kPlus:
      return "'+'";
    case Tok::kMinus:
      return "'-'";
    case Tok::kStar:
      return "'*'";
    case Tok::kSlash:
      return "'/'";
    case Tok::kPercent:
      return "'%'";
    case Tok::kBang:
      return "'!'";
    case Tok::kEq:
      return "'=='";
    case Tok::kNe:
      return "'!='";
    case Tok::kLt:
      return "'<'";
    case Tok::kLe:
      return "'<='";
    case Tok::kGt:
      return "'>'";
    case Tok::kGe:
      return "'>='";
    case Tok::kAnd:
      return "'&&'";
    case Tok::kOr:
      return "'||'";
  }
  return "a token";
}

std::string describe(std::string_view src, const Token& token) {
  if (token.kind == Tok::kEnd) {
    return "end of expression";
  }
  return quote(src.substr(token.pos, token.end - token.pos));
}

}  // namespace txv::rules::internal
