#include "rules/diagnostics.h"

#include <algorithm>
#include <vector>

#include "common/hex.h"
#include "common/text.h"

namespace txv::rules::internal {
namespace {

constexpr std::size_t kMaxQuoted = 40;
constexpr std::size_t kMaxSuggestLength = 64;

bool is_continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> prev(b.size() + 1);
  std::vector<std::size_t> cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) {
    prev[j] = j;
  }
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t subst = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, subst});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

}  // namespace

int column_of(std::string_view src, std::size_t byte_pos) {
  const std::size_t end = std::min(byte_pos, src.size());
  int column = 1;
  for (std::size_t i = 0; i < end; ++i) {
    if (!is_continuation(static_cast<unsigned char>(src[i]))) {
      ++column;
    }
  }
  if (byte_pos > src.size()) {
    column += static_cast<int>(byte_pos - src.size());
  }
  return column;
}

CompileError make_error(std::string_view src, std::size_t byte_pos, std::string_view what, std::string_view hint) {
  CompileError e;
  e.column = column_of(src, byte_pos);
  std::string message;
  message.reserve(what.size() + hint.size() + 24);
  message.append(what);
  message.append(" at column ");
  message.append(std::to_string(e.column));
  if (!hint.empty()) {
    message.push_back(' ');
    message.append(hint);
  }
  // quote() masks what it quotes; this catches any text that was not quoted.
  e.message = mask_long_digit_runs(message);
  return e;
}

std::string quote(std::string_view raw) {
  // Masked before it is cut, so that a cut cannot leave a shorter run visible.
  const std::string text = mask_long_digit_runs(raw);
  std::string out = "'";
  std::size_t chars = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (!is_continuation(c)) {
      if (chars == kMaxQuoted) {
        out.append("...");
        break;
      }
      ++chars;
    }
    if (c == '\n') {
      out.append("\\n");
    } else if (c == '\t') {
      out.append("\\t");
    } else if (c < 0x20 || c == 0x7F) {
      out.append("\\x");
      out.append(hex_encode(&c, 1));
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  out.push_back('\'');
  return out;
}

std::optional<std::string_view> closest(std::string_view word, std::span<const std::string_view> candidates) {
  if (word.empty() || word.size() > kMaxSuggestLength) {
    return std::nullopt;
  }
  std::optional<std::string_view> best;
  std::size_t best_distance = 3;  // suggest only distances 1 and 2
  for (std::string_view c : candidates) {
    const std::size_t d = edit_distance(word, c);
    if (d < best_distance && d * 2 < std::max(word.size(), c.size())) {
      best = c;
      best_distance = d;
    }
  }
  return best;
}

std::string did_you_mean(std::string_view word, std::span<const std::string_view> candidates) {
  auto c = closest(word, candidates);
  if (!c) {
    return {};
  }
  return "(did you mean " + quote(*c) + "?)";
}

std::optional<std::size_t> find_invalid_utf8(std::string_view text) {
  std::size_t i = 0;
  const std::size_t n = text.size();
  while (i < n) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    std::uint32_t cp = 0;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      cp = c & 0x07;
    } else {
      return i;
    }
    if (n - i < len) {
      return i;
    }
    for (std::size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(text[i + k]);
      if (!is_continuation(cc)) {
        return i;
      }
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return i;
    }
    i += len;
  }
  return std::nullopt;
}

}  // namespace txv::rules::internal
