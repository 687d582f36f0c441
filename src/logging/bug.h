// Programmer errors, reported the way Envoy's ENVOY_BUG does: a state the code
// believes impossible aborts a debug build at once (so tests find it), and in a
// release build is logged with its place and counted (txv_bugs_total), while
// the request that met it gets an ordinary error value and the process serves
// on. Never for a user's mistake or a failing dependency: those are Errors.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "logging/log.h"

namespace txv::logging {

// Bugs met since start; rendered as txv_bugs_total. Process-wide on purpose:
// a bug report must work from any layer without wiring.
inline std::atomic<std::uint64_t>& bug_counter() {
  static std::atomic<std::uint64_t> count{0};
  return count;
}

inline void report_bug(std::string_view what, const char* file, int line) {
  bug_counter().fetch_add(1, std::memory_order_relaxed);
  error("bug", {{"what", what}, {"file", std::string_view(file)}, {"line", static_cast<long long>(line)}});
#ifndef NDEBUG
  std::abort();
#endif
}

}  // namespace txv::logging

// TXV_BUG_IF(condition, "what"): reports when condition holds; evaluates to it.
#define TXV_BUG_IF(condition, what) \
  ((condition) ? (::txv::logging::report_bug((what), __FILE__, __LINE__), true) : false)
