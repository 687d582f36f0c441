// Structured JSON log lines on stderr: {"ts":"…Z","level":"info","msg":"…",…}.
//
// Fields are key/value pairs rendered as JSON strings or numbers. Callers must
// never pass a card number; request bodies are never logged.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace txv::logging {

enum class Level { kDebug, kInfo, kWarn, kError };

using Value = std::variant<std::string_view, long long, double, bool>;
using Field = std::pair<std::string_view, Value>;

// Sets up the process logger; level is "debug" | "info" | "warn" | "error".
void init(const std::string& level);
bool enabled(Level level);
void write(Level level, std::string_view message, std::initializer_list<Field> fields = {});

inline void info(std::string_view m, std::initializer_list<Field> f = {}) { write(Level::kInfo, m, f); }
inline void warn(std::string_view m, std::initializer_list<Field> f = {}) { write(Level::kWarn, m, f); }
inline void error(std::string_view m, std::initializer_list<Field> f = {}) { write(Level::kError, m, f); }
inline void debug(std::string_view m, std::initializer_list<Field> f = {}) { write(Level::kDebug, m, f); }

// JSON string escaping used by the log lines (exposed for tests).
void append_json_string(std::string& out, std::string_view s);

}  // namespace txv::logging
