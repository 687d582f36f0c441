#include "logging/log.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>

#include "common/json_text.h"

namespace txv::logging {
namespace {
spdlog::level::level_enum to_spd(Level l) {
  switch (l) {
    case Level::kDebug:
      return spdlog::level::debug;
    case Level::kInfo:
      return spdlog::level::info;
    case Level::kWarn:
      return spdlog::level::warn;
    case Level::kError:
      return spdlog::level::err;
  }
  return spdlog::level::info;
}
}  // namespace

void init(const std::string& level) {
  auto logger = spdlog::stderr_logger_mt("txv");
  // The message part (%v) is already a JSON fragment; spdlog adds time and level.
  logger->set_pattern(R"({"ts":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l",%v})", spdlog::pattern_time_type::utc);
  Level l = level == "debug"   ? Level::kDebug
            : level == "warn"  ? Level::kWarn
            : level == "error" ? Level::kError
                               : Level::kInfo;
  logger->set_level(to_spd(l));
  logger->flush_on(spdlog::level::debug);
  spdlog::set_default_logger(logger);
}

bool enabled(Level level) { return spdlog::default_logger_raw()->should_log(to_spd(level)); }

void append_json_string(std::string& out, std::string_view s) { txv::append_json_string(out, s); }

void write(Level level, std::string_view message, std::initializer_list<Field> fields) {
  if (!enabled(level)) return;
  std::string line = "\"msg\":";
  append_json_string(line, message);
  for (const auto& [key, value] : fields) {
    line.push_back(',');
    append_json_string(line, key);
    line.push_back(':');
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::string_view>) {
            append_json_string(line, v);
          } else if constexpr (std::is_same_v<T, bool>) {
            line += v ? "true" : "false";
          } else {
            line += std::to_string(v);
          }
        },
        value);
  }
  spdlog::default_logger_raw()->log(to_spd(level), line);
}

}  // namespace txv::logging
