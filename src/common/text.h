// Text helpers shared by every layer. Header-only, standard library only.
#pragma once

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace txv {

// Runs of at least this many ASCII digits are masked by mask_long_digit_runs().
inline constexpr std::size_t kMaskedDigitRun = 12;

// `text` with every run of 12 or more consecutive ASCII digits ('0'-'9')
// replaced by as many '*': "literal '6011593726516766x'" becomes
// "literal '****************x'". Shorter runs, and digits split by anything
// else (a space, a dash), are kept. The result has the same length in bytes
// and in code points as `text` (a digit and '*' are one byte each), so byte
// offsets and columns computed on `text` stay right; the length of a masked
// run stays visible, its digits do not. For error messages and logs that
// quote user input (API contract section 2: messages never echo a run of 12
// or more digits).
inline std::string mask_long_digit_runs(std::string_view text) {
  std::string out(text);
  std::size_t i = 0;
  while (i < out.size()) {
    if (out[i] < '0' || out[i] > '9') {
      ++i;
      continue;
    }
    std::size_t end = i;
    while (end < out.size() && out[end] >= '0' && out[end] <= '9') ++end;
    if (end - i >= kMaskedDigitRun) out.replace(i, end - i, end - i, '*');
    i = end;
  }
  return out;
}

// A whole decimal integer (an optional '-' and digits, nothing else), or nullopt (empty, other characters, or
// out of range).
inline std::optional<std::int64_t> parse_int64(std::string_view text) {
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace txv
