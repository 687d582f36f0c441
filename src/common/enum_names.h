// Maps a dense enum to and from its contract spelling through one name table.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace txv {

template <typename E, std::size_t N>
std::optional<E> parse_enum_name(std::string_view s, const char* const (&names)[N]) {
  for (std::size_t i = 0; i < N; ++i) {
    if (s == names[i]) return static_cast<E>(i);
  }
  return std::nullopt;
}

}  // namespace txv
