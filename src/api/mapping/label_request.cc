#include "api/mapping/label_request.h"

#include <algorithm>
#include <boost/json.hpp>
#include <string>
#include <vector>

#include "api/mapping/transaction_request.h"
#include "common/text.h"
#include "domain/card_text.h"
#include "domain/identifiers.h"
#include "domain/time.h"

namespace txv::api {
namespace {

namespace json = boost::json;

constexpr std::string_view kFields[] = {"label", "source", "reason", "at"};
constexpr std::string_view kIdFields[] = {"merchant_id", "transaction_id"};

std::string path(std::string_view prefix, std::string_view name) {
  std::string out(prefix);
  if (!out.empty()) out += '.';
  out.append(name);
  return out;
}

// A member's value; nullptr when absent or JSON null.
const json::value* member(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v == nullptr || v->is_null() ? nullptr : v;
}

}  // namespace

Result<store::Label> parse_label_request(const json::value& body, std::string_view field_prefix, bool with_ids,
                                         domain::TimePoint now) {
  if (!field_prefix.empty() && field_prefix.back() == '.') field_prefix.remove_suffix(1);
  std::vector<FieldIssue> issues;
  auto report = [&](std::string field, std::string_view issue) {
    issues.push_back(FieldIssue{std::move(field), std::string(issue)});
  };
  const json::object* o = body.if_object();
  if (o == nullptr) {
    report(field_prefix.empty() ? std::string("body") : std::string(field_prefix), issue::kInvalidType);
    return make_error("validation_failed", "The label must be a JSON object.", std::move(issues));
  }
  for (const auto& kv : *o) {
    const std::string_view key = kv.key();
    const bool known = std::find(std::begin(kFields), std::end(kFields), key) != std::end(kFields) ||
                       (with_ids && std::find(std::begin(kIdFields), std::end(kIdFields), key) != std::end(kIdFields));
    if (!known) report(path(field_prefix, mask_long_digit_runs(key)), issue::kUnknownField);
  }

  store::Label label;
  label.at = now;
  if (with_ids) {
    for (std::string_view key : kIdFields) {
      const json::value* v = member(*o, key);
      std::string field = path(field_prefix, key);
      if (v == nullptr) {
        report(std::move(field), issue::kRequired);
        continue;
      }
      if (!v->is_string()) {
        report(std::move(field), issue::kInvalidType);
        continue;
      }
      const std::string_view s(v->get_string());
      const std::size_t n = domain::utf8_length(s);
      if (n == 0) {
        report(std::move(field), issue::kTooShort);
      } else if (n > domain::kMaxIdLength) {
        report(std::move(field), issue::kTooLong);
      } else if (!std::all_of(s.begin(), s.end(), domain::is_id_char)) {
        report(std::move(field), issue::kInvalidFormat);
      } else {
        (key == "merchant_id" ? label.merchant_id : label.transaction_id) = std::string(s);
      }
    }
  }

  if (const json::value* v = member(*o, "label"); v == nullptr) {
    report(path(field_prefix, "label"), issue::kRequired);
  } else if (!v->is_string()) {
    report(path(field_prefix, "label"), issue::kInvalidType);
  } else if (auto value = store::parse_label_value(v->get_string())) {
    label.value = *value;
  } else {
    report(path(field_prefix, "label"), issue::kInvalidValue);
  }

  if (const json::value* v = member(*o, "source"); v == nullptr) {
    report(path(field_prefix, "source"), issue::kRequired);
  } else if (!v->is_string()) {
    report(path(field_prefix, "source"), issue::kInvalidType);
  } else if (auto source = store::parse_label_source(v->get_string())) {
    label.source = *source;
  } else {
    report(path(field_prefix, "source"), issue::kInvalidValue);
  }

  if (const json::value* v = member(*o, "reason")) {
    std::string field = path(field_prefix, "reason");
    if (!v->is_string()) {
      report(std::move(field), issue::kInvalidType);
    } else {
      const std::string_view s(v->get_string());
      const std::size_t n = domain::utf8_length(s);
      if (n == 0) {
        report(std::move(field), issue::kTooShort);
      } else if (n > kMaxLabelReasonLength) {
        report(std::move(field), issue::kTooLong);
      } else if (s.find('\0') != std::string_view::npos) {
        report(std::move(field), issue::kInvalidFormat);
      } else if (domain::looks_like_card_number(s)) {
        report(std::move(field), issue::kLooksLikeCardNumber);
      } else {
        label.reason = std::string(s);
      }
    }
  }

  if (const json::value* v = member(*o, "at")) {
    std::string field = path(field_prefix, "at");
    if (!v->is_string()) {
      report(std::move(field), issue::kInvalidType);
    } else if (auto at = domain::parse_rfc3339(v->get_string()); !at) {
      report(std::move(field), issue::kInvalidFormat);
    } else if (*at > now + kMaxLabelClockSkew) {
      report(std::move(field), issue::kOutOfRange);
    } else {
      label.at = *at;
    }
  }

  if (!issues.empty()) {
    return make_error("validation_failed", "The label has invalid fields; see details.", std::move(issues));
  }
  return label;
}

}  // namespace txv::api
