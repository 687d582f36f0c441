// The entries of one named list, as decisions read them. Immutable once published.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <unordered_set>

namespace txv::decide {

// Hashes std::string and std::string_view alike, so look-ups never allocate.
struct TransparentStringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
using ListEntries = std::unordered_set<std::string, TransparentStringHash, std::equal_to<>>;

}  // namespace txv::decide
