#include "domain/card_text.h"

#include <cstddef>

#include "domain/card.h"

namespace txv::domain {
namespace {

constexpr std::size_t kMinDigits = 13;
constexpr std::size_t kMaxDigits = 19;

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_separator(char c) { return c == ' ' || c == '-'; }

// Where a group of digits starts and how many digits it holds.
struct Group {
  std::size_t begin;
  std::size_t size;
};

// Tests every span of consecutive whole groups of one run (see the header).
bool run_has_card_number(std::string_view text, const Group* groups, std::size_t count) {
  char digits[kMaxDigits];
  for (std::size_t first = 0; first < count; ++first) {
    std::size_t n = 0;
    for (std::size_t g = first; g < count; ++g) {
      if (n + groups[g].size > kMaxDigits) break;
      for (std::size_t k = 0; k < groups[g].size; ++k) digits[n++] = text[groups[g].begin + k];
      if (n >= kMinDigits && card_number_check(std::string_view(digits, n)).valid) return true;
    }
  }
  return false;
}

}  // namespace

bool looks_like_card_number(std::string_view text) {
  // The groups of the current run. A run with more groups than this is
  // checked in overlapping batches, so no span of <= 19 digits is missed:
  // a span holds at most 19 groups.
  constexpr std::size_t kMaxGroups = 64;
  Group groups[kMaxGroups];
  std::size_t count = 0;
  std::size_t i = 0;
  const std::size_t n = text.size();
  while (i < n) {
    if (!is_digit(text[i])) {
      ++i;
      continue;
    }
    // A run starts at text[i].
    count = 0;
    while (true) {
      const std::size_t begin = i;
      while (i < n && is_digit(text[i])) ++i;
      if (count == kMaxGroups) {
        if (run_has_card_number(text, groups, count)) return true;
        // Keep the last kMaxDigits - 1 groups: spans that end in later groups may start there.
        constexpr std::size_t kKeep = kMaxDigits - 1;
        for (std::size_t k = 0; k < kKeep; ++k) groups[k] = groups[count - kKeep + k];
        count = kKeep;
      }
      groups[count++] = Group{begin, i - begin};
      // One separator followed by a digit continues the run; anything else ends it.
      if (i + 1 < n && is_separator(text[i]) && is_digit(text[i + 1])) {
        ++i;
        continue;
      }
      break;
    }
    if (run_has_card_number(text, groups, count)) return true;
  }
  return false;
}

}  // namespace txv::domain
