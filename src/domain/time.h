// RFC 3339 timestamps. Parsing accepts any offset ("Z", "+02:00") and returns
// UTC; formatting always writes UTC with millisecond precision and "Z".
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "domain/transaction.h"

namespace txv::domain {

std::optional<TimePoint> parse_rfc3339(std::string_view text);
std::string format_rfc3339(TimePoint t);  // "2026-11-24T10:00:00.123Z"
TimePoint now_millis();

}  // namespace txv::domain
