#include "config/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/text.h"

extern char** environ;

namespace txv::config {
namespace {

Error bad(const std::string& key, const std::string& what) {
  return make_error("invalid_configuration", key + ": " + what);
}

}  // namespace

const std::vector<SettingInfo>& settings() {
  static const std::vector<SettingInfo> kSettings = {
      {"TXV_LISTEN", "address:port to listen on (default 127.0.0.1:8080)"},
      {"TXV_DATABASE_URL", "sqlite:PATH (embedded) or postgres://... (default sqlite:./txv-data/txv.db)"},
      {"TXV_DATABASE_READ_URL", "optional read replica for lag-tolerant reads"},
      {"TXV_REDIS_URL", "redis://[user:pass@]host:port/db or rediss://...; unset: in-process cache"},
      {"TXV_PAN_KEY_FILE", "file holding the card fingerprint key (>= 32 bytes, hex or base64)"},
      {"TXV_PAN_KEY", "the card fingerprint key itself (>= 32 bytes, hex or base64)"},
      {"TXV_LOG_LEVEL", "debug, info, warn or error (default info)"},
      {"TXV_THREADS", "I/O threads (default: one per core); handlers never block them"},
      {"TXV_TLS_CERT_FILE", "certificate chain (PEM); with TXV_TLS_KEY_FILE serve HTTPS only"},
      {"TXV_TLS_KEY_FILE", "private key (PEM)"},
      {"TXV_RATE_LIMIT", "requests per second per API key, burst 2x (default 0: off)"},
      {"TXV_DECISION_TRACES", "on or off: store what each rule saw with every decision (default on)"},
      {"TXV_CONSOLE_DIR", "serve the console from this directory (a console/dist) instead of the embedded one"},
      {"TXV_BACKTEST_STALE_AFTER",
       "a running backtest whose replica wrote no progress for this long is failed (default 30s)"},
      {"TXV_DRAIN_DELAY", "after SIGTERM keep accepting this long (default 5s)"},
      {"TXV_GRACE_PERIOD", "after SIGTERM exit within this long (default 25s)"},
  };
  return kSettings;
}

std::string yaml_key(const std::string& env) {
  std::string k = env.substr(4);
  std::transform(k.begin(), k.end(), k.begin(), [](unsigned char c) { return std::tolower(c); });
  return k;
}

std::string flag_name(const std::string& env) {
  std::string k = yaml_key(env);
  std::replace(k.begin(), k.end(), '_', '-');
  return k;
}

RawSettings settings_from_environment() {
  RawSettings out;
  for (const auto& s : settings()) {
    if (const char* v = std::getenv(s.env); v != nullptr) out[s.env] = v;
  }
  return out;
}

Result<RawSettings> settings_from_yaml_file(const std::string& path) {
  // Read the file ourselves: yaml-cpp leaks its buffer when LoadFile fails on
  // something that is not a regular file.
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return bad("--config", path + ": not a readable file");
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) return bad("--config", path + ": cannot read the file");
  YAML::Node root;
  try {
    root = YAML::Load(text.str());
  } catch (const YAML::Exception& e) {
    return bad("--config", path + ": " + e.what());
  } catch (const std::exception&) {  // e.g. the path is a directory
    return bad("--config", path + ": cannot read the file");
  }
  if (!root.IsMap()) return bad("--config", path + ": expected a mapping of settings");
  RawSettings out;
  for (const auto& kv : root) {
    std::string key = kv.first.as<std::string>("");
    const SettingInfo* found = nullptr;
    for (const auto& s : settings()) {
      if (yaml_key(s.env) == key) found = &s;
    }
    if (found == nullptr) return bad("--config", path + ": unknown setting '" + key + "'");
    if (!kv.second.IsScalar()) return bad(found->env, "expected a single value in " + path);
    out[found->env] = kv.second.as<std::string>();
  }
  return out;
}

std::optional<std::chrono::milliseconds> parse_duration(const std::string& text) {
  std::size_t i = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
  if (i == 0 || i > 9) return std::nullopt;
  long long n = *parse_int64(text.substr(0, i));
  std::string unit = text.substr(i);
  if (unit == "ms") return std::chrono::milliseconds(n);
  if (unit == "s") return std::chrono::milliseconds(n * 1000);
  if (unit == "m") return std::chrono::milliseconds(n * 60'000);
  if (unit == "h") return std::chrono::milliseconds(n * 3'600'000);
  return std::nullopt;
}

Result<ServerConfig> load_config(const std::vector<RawSettings>& layers) {
  RawSettings merged;
  for (const auto& layer : layers) {
    for (const auto& [k, v] : layer) merged[k] = v;
  }
  ServerConfig c;
  c.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  auto get = [&](const char* k) -> const std::string* {
    auto it = merged.find(k);
    return it == merged.end() ? nullptr : &it->second;
  };

  if (auto* v = get("TXV_LISTEN")) {
    auto colon = v->rfind(':');
    if (colon == std::string::npos || colon == 0) return bad("TXV_LISTEN", "expected address:port, got '" + *v + "'");
    auto port = parse_int64(v->substr(colon + 1));
    if (!port || *port < 0 || *port > 65535) return bad("TXV_LISTEN", "invalid port in '" + *v + "'");
    std::string host = v->substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    c.listen_host = host;
    c.listen_port = static_cast<unsigned short>(*port);
  }
  if (auto* v = get("TXV_DATABASE_URL")) {
    c.database_url = *v;
    if (v->rfind("sqlite:", 0) == 0) {
      c.database_kind = DatabaseKind::kSqlite;
      c.sqlite_path = v->substr(7);
      if (c.sqlite_path.rfind("//", 0) == 0) c.sqlite_path = c.sqlite_path.substr(2);
      if (c.sqlite_path.empty()) return bad("TXV_DATABASE_URL", "sqlite: URL needs a path (sqlite:./txv-data/txv.db)");
    } else if (v->rfind("postgres://", 0) == 0 || v->rfind("postgresql://", 0) == 0) {
      c.database_kind = DatabaseKind::kPostgres;
    } else {
      return bad("TXV_DATABASE_URL", "expected sqlite:PATH or postgres://..., got an unsupported scheme");
    }
  }
  if (auto* v = get("TXV_DATABASE_READ_URL"); v && !v->empty()) {
    if (v->rfind("postgres://", 0) != 0 && v->rfind("postgresql://", 0) != 0) {
      return bad("TXV_DATABASE_READ_URL", "expected postgres://...");
    }
    c.database_read_url = *v;
  }
  if (auto* v = get("TXV_REDIS_URL"); v && !v->empty()) {
    if (v->rfind("redis://", 0) != 0 && v->rfind("rediss://", 0) != 0) {
      return bad("TXV_REDIS_URL", "expected redis://host:port/db or rediss://...");
    }
    c.redis_url = *v;
  }
  if (auto* v = get("TXV_PAN_KEY_FILE"); v && !v->empty()) c.pan_key_file = *v;
  if (auto* v = get("TXV_PAN_KEY"); v && !v->empty()) c.pan_key = *v;
  if (auto* v = get("TXV_LOG_LEVEL")) {
    if (*v != "debug" && *v != "info" && *v != "warn" && *v != "error") {
      return bad("TXV_LOG_LEVEL", "expected debug, info, warn or error, got '" + *v + "'");
    }
    c.log_level = *v;
  }
  if (auto* v = get("TXV_DECISION_TRACES")) {
    if (*v != "on" && *v != "off") return bad("TXV_DECISION_TRACES", "expected on or off, got '" + *v + "'");
    c.decision_traces = *v == "on";
  }
  if (auto* v = get("TXV_THREADS")) {
    auto n = parse_int64(*v);
    if (!n || *n < 1 || *n > 1024) return bad("TXV_THREADS", "expected an integer 1..1024, got '" + *v + "'");
    c.threads = static_cast<int>(*n);
  }
  if (auto* v = get("TXV_TLS_CERT_FILE"); v && !v->empty()) c.tls_cert_file = *v;
  if (auto* v = get("TXV_CONSOLE_DIR"); v && !v->empty()) c.console_dir = *v;
  if (auto* v = get("TXV_TLS_KEY_FILE"); v && !v->empty()) c.tls_key_file = *v;
  if (c.tls_cert_file.has_value() != c.tls_key_file.has_value()) {
    return bad(c.tls_cert_file ? "TXV_TLS_KEY_FILE" : "TXV_TLS_CERT_FILE",
               "TXV_TLS_CERT_FILE and TXV_TLS_KEY_FILE must be set together");
  }
  if (auto* v = get("TXV_RATE_LIMIT")) {
    char* end = nullptr;
    double r = std::strtod(v->c_str(), &end);
    if (v->empty() || end != v->c_str() + v->size() || !(r >= 0) || r > 1e9) {
      return bad("TXV_RATE_LIMIT", "expected a non-negative number of requests per second, got '" + *v + "'");
    }
    c.rate_limit = r;
  }
  if (auto* v = get("TXV_BACKTEST_STALE_AFTER")) {
    auto d = parse_duration(*v);
    // Progress is written every second: a limit under 3 s would fail jobs that are running.
    if (!d || *d < std::chrono::seconds(3)) {
      return bad("TXV_BACKTEST_STALE_AFTER", "expected a duration of at least 3s, got '" + *v + "'");
    }
    c.backtest_stale_after = *d;
  }
  if (auto* v = get("TXV_DRAIN_DELAY")) {
    auto d = parse_duration(*v);
    if (!d) return bad("TXV_DRAIN_DELAY", "expected a duration such as 5s or 500ms, got '" + *v + "'");
    c.drain_delay = *d;
  }
  if (auto* v = get("TXV_GRACE_PERIOD")) {
    auto d = parse_duration(*v);
    if (!d) return bad("TXV_GRACE_PERIOD", "expected a duration such as 25s, got '" + *v + "'");
    c.grace_period = *d;
  }
  if (c.grace_period <= c.drain_delay) {
    return bad("TXV_GRACE_PERIOD", "must be longer than TXV_DRAIN_DELAY");
  }
  if (c.database_kind == DatabaseKind::kPostgres && !c.pan_key && !c.pan_key_file) {
    return bad("TXV_PAN_KEY", "required with a postgres database (set TXV_PAN_KEY or TXV_PAN_KEY_FILE)");
  }
  return c;
}

}  // namespace txv::config
