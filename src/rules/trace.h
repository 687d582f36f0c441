// TraceValue: what one traced sub-expression of a rule evaluated to (contract
// section 10, decision traces). Traced are field, metadata and velocity reads,
// named-list tests, method results and size(); each distinct text once.
#pragma once

#include <cstdint>
#include <string_view>

namespace txv::rules {

struct TraceValue {
  enum class Kind : std::uint8_t {
    kUnread,  // the evaluation did not reach it (short-circuited)
    kAbsent,  // read, and absent (null in a trace)
    kInt,
    kBool,
    kString,
  };
  Kind kind = Kind::kUnread;
  std::int64_t i = 0;  // kInt, kBool (0 / 1)
  // kString: points into the Activation's data; valid only as long as the
  // strings the Activation returned are (at least until evaluate returns).
  std::string_view s;
};

}  // namespace txv::rules
