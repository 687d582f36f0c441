#include "cli/rules_commands.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cstdio>
#include <map>
#include <ostream>
#include <thread>

#include "domain/time.h"

namespace txv::cli {
namespace {

namespace json = boost::json;

// "CODE: message (field: issue, ...)" from the server's error body, else the status.
std::string server_error(const HttpAnswer& a) {
  boost::system::error_code ec;
  json::value doc = json::parse(a.body, ec);
  const json::object* err = nullptr;
  if (!ec && doc.is_object()) {
    if (const json::value* e = doc.as_object().if_contains("error"); e != nullptr && e->is_object()) {
      err = &e->as_object();
    }
  }
  if (err == nullptr) return "HTTP " + std::to_string(a.status);
  auto str = [&](const json::object& o, const char* k) {
    const json::value* v = o.if_contains(k);
    return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
  };
  std::string out = "HTTP " + std::to_string(a.status) + " " + str(*err, "code") + ": " + str(*err, "message");
  if (const json::value* d = err->if_contains("details"); d != nullptr && d->is_array() && !d->as_array().empty()) {
    std::string issues;
    for (const auto& item : d->as_array()) {
      if (!item.is_object()) continue;
      if (!issues.empty()) issues += ", ";
      issues += str(item.as_object(), "field") + ": " + str(item.as_object(), "issue");
    }
    out += " (" + issues + ")";
  }
  return out;
}

Result<RuleSet> fetch_live(const RulesCall& call, std::ostream& err) {
  auto a = call("GET", "/v1/rules", "", "");
  if (!a.ok()) return Error(a.error());
  if (a->status != 200) return make_error("unavailable", "GET /v1/rules: " + server_error(*a));
  auto live = rules_from_json(a->body);
  (void)err;
  return live;
}

Result<RuleSet> read_file(const std::string& text) { return read_rules_yaml(text); }

std::string pad(std::string s, std::size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

std::string rpad(const std::string& s, std::size_t width) {
  return s.size() < width ? std::string(width - s.size(), ' ') + s : s;
}

std::int64_t int_at(const json::value* v) {
  if (v == nullptr) return 0;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64()) return static_cast<std::int64_t>(v->as_uint64());
  if (v->is_double()) return static_cast<std::int64_t>(v->as_double());
  return 0;
}

const json::value* path(const json::value& root, std::initializer_list<const char*> keys) {
  const json::value* v = &root;
  for (const char* k : keys) {
    if (!v->is_object()) return nullptr;
    v = v->as_object().if_contains(k);
    if (v == nullptr) return nullptr;
  }
  return v;
}

std::string amounts(const json::value* a) {
  if (a == nullptr || !a->is_object() || a->as_object().empty()) return "-";
  std::string out;
  for (const auto& kv : a->as_object()) {
    if (!out.empty()) out += " ";
    out += std::string(kv.key()) + " " + std::to_string(int_at(&kv.value()));
  }
  return out;
}

std::string ratio(const json::value* v) {
  if (v == nullptr || !(v->is_double() || v->is_int64() || v->is_uint64())) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", v->is_double() ? v->as_double() : static_cast<double>(int_at(v)));
  return buf;
}

std::string signed_delta(std::int64_t d) { return d > 0 ? "+" + std::to_string(d) : std::to_string(d); }

}  // namespace

Result<std::chrono::seconds> parse_since(const std::string& text) {
  if (text.size() < 2) return make_error("usage", "--since: expected a duration such as 7d, 12h or 30m");
  const char unit = text.back();
  const std::string digits = text.substr(0, text.size() - 1);
  if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }) || digits.size() > 6) {
    return make_error("usage", "--since: expected a duration such as 7d, 12h or 30m");
  }
  const long long n = std::stoll(digits);
  if (n <= 0) return make_error("usage", "--since: must be more than zero");
  switch (unit) {
    case 'd':
      return std::chrono::seconds(n * 86400);
    case 'h':
      return std::chrono::seconds(n * 3600);
    case 'm':
      return std::chrono::seconds(n * 60);
    default:
      return make_error("usage", "--since: the unit must be d, h or m (e.g. 7d, 12h, 30m)");
  }
}

int rules_export(const RulesCall& call, std::ostream& out, std::ostream& err) {
  auto live = fetch_live(call, err);
  if (!live.ok()) {
    err << "txv: rules export: " << live.error().message << "\n";
    return kRulesExitError;
  }
  out << write_rules_yaml(*live);
  return kRulesExitOk;
}

std::string format_backtest(const std::string& job_json, const std::map<std::string, std::string>& names) {
  boost::system::error_code ec;
  json::value job = json::parse(job_json, ec);
  if (ec) return "backtest: the server's answer is not JSON\n";
  const json::value* result = path(job, {"result"});
  if (result == nullptr) return "backtest: no result\n";
  std::string out;
  out += "backtest over " + std::to_string(int_at(path(job, {"transactions"}))) + " transactions\n\n";

  out += pad("outcome", 10) + rpad("live", 10) + rpad("proposed", 10) + rpad("change", 10) + "   " +
         pad("amount live", 22) + "amount proposed\n";
  for (const char* outcome : {"approve", "decline", "review"}) {
    const auto live = int_at(path(*result, {"outcomes", "live", outcome, "count"}));
    const auto proposed = int_at(path(*result, {"outcomes", "proposed", outcome, "count"}));
    out += pad(outcome, 10) + rpad(std::to_string(live), 10) + rpad(std::to_string(proposed), 10) +
           rpad(signed_delta(proposed - live), 10) + "   " +
           pad(amounts(path(*result, {"outcomes", "live", outcome, "amount"})), 22) +
           amounts(path(*result, {"outcomes", "proposed", outcome, "amount"})) + "\n";
  }

  out += "\nchanges live -> proposed\n";
  const json::value* changes = path(*result, {"changes"});
  if (changes == nullptr || !changes->is_object() || changes->as_object().empty()) {
    out += "  none\n";
  } else {
    for (const auto& kv : changes->as_object()) {
      out += "  " + pad(std::string(kv.key()), 20) + rpad(std::to_string(int_at(&kv.value())), 8) + "\n";
    }
  }

  out += "\n" + pad("rule", 40) + rpad("matches live", 14) + rpad("matches proposed", 18) + "\n";
  if (const json::value* rules = path(*result, {"rules"}); rules != nullptr && rules->is_array()) {
    for (const auto& r : rules->as_array()) {
      if (!r.is_object()) continue;
      const auto& o = r.as_object();
      std::string name;
      if (const json::value* id = o.if_contains("rule_id"); id != nullptr && id->is_string()) {
        name = id->as_string();
        if (auto it = names.find(name); it != names.end() && !o.contains("name")) name += " (" + it->second + ")";
      }
      if (const json::value* n = o.if_contains("name"); n != nullptr && n->is_string()) {
        name += name.empty() ? std::string(n->as_string()) : " (" + std::string(n->as_string()) + ")";
      }
      out += pad(name, 40) + rpad(std::to_string(int_at(o.if_contains("matches_live"))), 14) +
             rpad(std::to_string(int_at(o.if_contains("matches_proposed"))), 18) + "\n";
    }
  }

  out += "\n" + pad("labelled", 22) + rpad("live", 10) + rpad("proposed", 10) + "\n";
  for (const char* label : {"fraud", "not_fraud"}) {
    const auto total = std::to_string(int_at(path(*result, {"labels", label, "total"})));
    out += pad(std::string(label) + " stopped", 22) +
           rpad(std::to_string(int_at(path(*result, {"labels", label, "stopped_live"}))) + "/" + total, 10) +
           rpad(std::to_string(int_at(path(*result, {"labels", label, "stopped_proposed"}))) + "/" + total, 10) + "\n";
  }
  out += pad("precision", 22) + rpad(ratio(path(*result, {"labels", "precision_live"})), 10) +
         rpad(ratio(path(*result, {"labels", "precision_proposed"})), 10) + "\n";
  out += pad("recall", 22) + rpad(ratio(path(*result, {"labels", "recall_live"})), 10) +
         rpad(ratio(path(*result, {"labels", "recall_proposed"})), 10) + "\n";
  return out;
}

int rules_plan(const std::string& file_text, const RulesCall& call, const RulesPlanOptions& options, std::ostream& out,
               std::ostream& err) {
  auto file = read_file(file_text);
  if (!file.ok()) {
    err << "txv: rules plan: " << file.error().message << "\n";
    return kRulesExitError;
  }
  auto live = fetch_live(call, err);
  if (!live.ok()) {
    err << "txv: rules plan: " << live.error().message << "\n";
    return kRulesExitError;
  }
  file->rules = adopt_live_ids(live->rules, std::move(file->rules));
  out << "rules: live version " << (live->rules_version ? std::to_string(*live->rules_version) : "?") << ", file from "
      << (file->rules_version ? "version " + std::to_string(*file->rules_version) : "no version") << "\n";
  if (file->rules_version && live->rules_version && *file->rules_version != *live->rules_version) {
    out << "note: the live set changed since the file was exported (apply will be refused until it is re-exported "
           "or its rules_version updated)\n";
  }
  out << format_diff(diff_rules(live->rules, file->rules)) << "\n";
  out.flush();

  std::vector<std::string> live_ids;
  for (const auto& r : live->rules) live_ids.push_back(r.id);
  const auto until = domain::now_millis();
  const auto since = until - options.since;
  const std::string body = "{\"rules\":" + rules_to_json_array(file->rules, &live_ids) +
                           ",\"since\":" + json::serialize(json::value(domain::format_rfc3339(since))) +
                           ",\"until\":" + json::serialize(json::value(domain::format_rfc3339(until))) +
                           ",\"replace_all\":true}";
  auto started = call("POST", "/v1/backtests", body, "");
  if (!started.ok()) {
    err << "txv: rules plan: " << started.error().message << "\n";
    return kRulesExitError;
  }
  if (started->status != 202 && started->status != 200) {
    err << "txv: rules plan: POST /v1/backtests: " << server_error(*started) << "\n";
    return kRulesExitError;
  }
  boost::system::error_code ec;
  json::value doc = json::parse(started->body, ec);
  const json::value* id = ec ? nullptr : path(doc, {"id"});
  if (id == nullptr || !id->is_string()) {
    err << "txv: rules plan: POST /v1/backtests: no id in the answer\n";
    return kRulesExitError;
  }
  const std::string job_path = "/v1/backtests/" + std::string(id->as_string());
  out << "backtest " << id->as_string().c_str() << " from " << domain::format_rfc3339(since) << " to "
      << domain::format_rfc3339(until) << "\n";
  out.flush();

  const auto deadline = std::chrono::steady_clock::now() + options.poll_deadline;
  for (;;) {
    auto a = call("GET", job_path, "", "");
    if (!a.ok()) {
      err << "txv: rules plan: " << a.error().message << "\n";
      return kRulesExitError;
    }
    if (a->status != 200) {
      err << "txv: rules plan: GET " << job_path << ": " << server_error(*a) << "\n";
      return kRulesExitError;
    }
    json::value job = json::parse(a->body, ec);
    const json::value* status = ec ? nullptr : path(job, {"status"});
    const std::string state = status != nullptr && status->is_string() ? std::string(status->as_string()) : "";
    if (state == "done") {
      if (options.progress) err << "\r\033[K";
      std::map<std::string, std::string> names;
      for (const auto& r : live->rules) names[r.id] = r.name;
      for (const auto& r : file->rules) {
        if (!r.id.empty()) names[r.id] = r.name;
      }
      out << format_backtest(a->body, names);
      return kRulesExitOk;
    }
    if (state != "running") {
      if (options.progress) err << "\n";
      err << "txv: rules plan: the backtest ended " << (state.empty() ? "without a status" : state) << "\n";
      return kRulesExitError;
    }
    if (options.progress) {
      const json::value* p = path(job, {"progress"});
      const double progress = p != nullptr && p->is_double() ? p->as_double() : 0.0;
      char line[64];
      std::snprintf(line, sizeof line, "\rbacktest: %3.0f%%", progress * 100);
      err << line << std::flush;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      if (options.progress) err << "\n";
      err << "txv: rules plan: the backtest did not finish in time; it goes on on the server (" << job_path << ")\n";
      return kRulesExitError;
    }
    if (options.sleep) {
      options.sleep(options.poll_interval);
    } else {
      std::this_thread::sleep_for(options.poll_interval);
    }
  }
}

int rules_apply(const std::string& file_text, const RulesCall& call, std::ostream& out, std::ostream& err) {
  auto file = read_file(file_text);
  if (!file.ok()) {
    err << "txv: rules apply: " << file.error().message << "\n";
    return kRulesExitError;
  }
  if (!file->rules_version) {
    err << "txv: rules apply: the file has no rules_version (export the live set first: txv rules export)\n";
    return kRulesExitError;
  }
  auto live = fetch_live(call, err);
  if (!live.ok()) {
    err << "txv: rules apply: " << live.error().message << "\n";
    return kRulesExitError;
  }
  file->rules = adopt_live_ids(live->rules, std::move(file->rules));
  const RulesDiff diff = diff_rules(live->rules, file->rules);
  if (diff.empty()) {
    out << "nothing to do: the live set (version " << (live->rules_version ? std::to_string(*live->rules_version) : "?")
        << ") already equals the file (" << diff.unchanged << " rules)\n";
    return kRulesExitOk;
  }
  out << format_diff(diff);
  const std::string body = "{\"rules\":" + rules_to_json_array(file->rules) + "}";
  auto a = call("PUT", "/v1/rules", body, "\"" + std::to_string(*file->rules_version) + "\"");
  if (!a.ok()) {
    err << "txv: rules apply: " << a.error().message << "\n";
    return kRulesExitError;
  }
  if (a->status == 412) {
    err << "txv: rules apply: version mismatch: the file is from rules_version " << *file->rules_version
        << " but the live set has changed since (" << server_error(*a) << "); re-export or re-plan, then apply again\n";
    return kRulesExitVersionMismatch;
  }
  if (a->status != 200) {
    err << "txv: rules apply: PUT /v1/rules: " << server_error(*a) << "\n";
    return kRulesExitError;
  }
  boost::system::error_code ec;
  json::value doc = json::parse(a->body, ec);
  auto count = [&](const char* k) -> std::string {
    const json::value* v = ec ? nullptr : path(doc, {k});
    if (v == nullptr) return "?";
    if (v->is_array()) return std::to_string(v->as_array().size());
    return std::to_string(int_at(v));
  };
  const json::value* version = ec ? nullptr : path(doc, {"rules_version"});
  out << "applied: " << count("created") << " created, " << count("updated") << " updated, " << count("deleted")
      << " deleted; rules_version " << (version != nullptr ? std::to_string(int_at(version)) : "?") << "\n";
  return kRulesExitOk;
}

}  // namespace txv::cli
