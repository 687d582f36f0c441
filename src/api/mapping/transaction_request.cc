#include "api/mapping/transaction_request.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "common/text.h"
#include "domain/card_text.h"
#include "domain/country.h"
#include "domain/currency.h"
#include "domain/identifiers.h"
#include "domain/time.h"

namespace txv::api {
namespace {

namespace json = boost::json;
using domain::utf8_length;

constexpr std::int64_t kMaxAmount = 1'000'000'000'000'000;  // 10^15
constexpr std::size_t kMinPanLength = 12;
constexpr std::size_t kMaxPanLength = 19;
constexpr std::size_t kMaxTokenLength = 128;
constexpr std::size_t kMaxBrandLength = 32;
constexpr std::size_t kMaxCustomerIdLength = 128;  // customer.id, customer.device_id
constexpr std::size_t kMaxMetadataEntries = 20;
constexpr std::size_t kMaxMetadataKeyLength = 40;
constexpr std::size_t kMaxMetadataValueLength = 500;

constexpr std::string_view kTopLevelFields[] = {"transaction_id", "merchant_id", "type",     "amount",      "currency",
                                                "card",           "customer",    "merchant", "occurred_at", "metadata"};
constexpr std::string_view kCardFields[] = {"number", "expiry_month", "expiry_year", "token", "bin", "last4", "brand"};
constexpr std::string_view kCustomerFields[] = {"id", "email", "ip", "country", "device_id"};
constexpr std::string_view kMerchantFields[] = {"mcc", "country"};

// Collects issues while walking the body. Paths are built from a base path
// ("" at the top without prefix, "card", "transactions[3].card", ...).
class Checker {
 public:
  std::vector<FieldIssue> issues;

  static std::string join(std::string_view base, std::string_view name) {
    std::string out;
    out.reserve(base.size() + 1 + name.size());
    out.append(base);
    if (!base.empty()) out += '.';
    out.append(name);
    return out;
  }

  void report(std::string field, std::string_view issue) {
    FieldIssue fi{std::move(field), std::string(issue)};
    if (std::find(issues.begin(), issues.end(), fi) == issues.end()) issues.push_back(std::move(fi));
  }

  void reject_unknown(const json::object& o, std::span<const std::string_view> known, std::string_view base) {
    for (const auto& kv : o) {
      const std::string_view key = kv.key();
      if (std::find(known.begin(), known.end(), key) == known.end()) {
        report(join(base, mask_long_digit_runs(key)), issue::kUnknownField);
      }
    }
  }

  // The value of a named field; nullptr when absent or JSON null.
  static const json::value* find(const json::object& o, std::string_view key) {
    const json::value* v = o.if_contains(key);
    return v == nullptr || v->is_null() ? nullptr : v;
  }

  // A string field. Reports `required` (if required and absent) or
  // `invalid_type`; returns the text only when it is a string.
  std::optional<std::string_view> string_field(const json::object& o, std::string_view key, std::string_view base,
                                               bool required) {
    const json::value* v = find(o, key);
    if (v == nullptr) {
      if (required) report(join(base, key), issue::kRequired);
      return std::nullopt;
    }
    if (!v->is_string()) {
      report(join(base, key), issue::kInvalidType);
      return std::nullopt;
    }
    const json::string& s = v->get_string();
    return std::string_view(s.data(), s.size());
  }

  // An integer field (a JSON number without fraction or exponent, as Boost.JSON
  // parses it into int64/uint64). Values above INT64_MAX come back as
  // INT64_MAX, which is out of every range checked here.
  std::optional<std::int64_t> integer_field(const json::object& o, std::string_view key, std::string_view base,
                                            bool required) {
    const json::value* v = find(o, key);
    if (v == nullptr) {
      if (required) report(join(base, key), issue::kRequired);
      return std::nullopt;
    }
    if (v->is_int64()) return v->get_int64();
    if (v->is_uint64()) {
      return static_cast<std::int64_t>(std::min<std::uint64_t>(
          v->get_uint64(), static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())));
    }
    // An integer literal beyond 64 bits parses as a double: it is an integer
    // out of range, not a wrong type. Saturate so the caller reports the range.
    if (v->is_double() && std::abs(v->get_double()) >= 9.2e18 && std::floor(v->get_double()) == v->get_double()) {
      return v->get_double() > 0 ? std::numeric_limits<std::int64_t>::max() : std::numeric_limits<std::int64_t>::min();
    }
    report(join(base, key), issue::kInvalidType);
    return std::nullopt;
  }

  // An object field: nullptr when absent (reporting `required` if required) or
  // not an object (reporting `invalid_type`).
  const json::object* object_field(const json::object& o, std::string_view key, std::string_view base, bool required) {
    const json::value* v = find(o, key);
    if (v == nullptr) {
      if (required) report(join(base, key), issue::kRequired);
      return nullptr;
    }
    if (!v->is_object()) {
      report(join(base, key), issue::kInvalidType);
      return nullptr;
    }
    return &v->get_object();
  }

  // Length in code points within [min, max], else too_short / too_long.
  bool length_ok(std::string_view s, std::size_t min, std::size_t max, std::string field) {
    const std::size_t n = utf8_length(s);
    if (n < min) {
      report(std::move(field), issue::kTooShort);
      return false;
    }
    if (n > max) {
      report(std::move(field), issue::kTooLong);
      return false;
    }
    return true;
  }

  std::optional<std::string> id_field(const json::object& o, std::string_view key, std::string_view base) {
    auto s = string_field(o, key, base, /*required=*/true);
    if (!s || !length_ok(*s, 1, domain::kMaxIdLength, join(base, key))) return std::nullopt;
    if (!std::all_of(s->begin(), s->end(), domain::is_id_char)) {
      report(join(base, key), issue::kInvalidFormat);
      return std::nullopt;
    }
    return std::string(*s);
  }

  std::optional<std::string> country_field(const json::object& o, std::string_view base) {
    auto s = string_field(o, "country", base, /*required=*/false);
    if (!s) return std::nullopt;
    if (!domain::is_country_code(*s)) {
      report(join(base, "country"), issue::kUnknownCountry);
      return std::nullopt;
    }
    return std::string(*s);
  }

  // A free-text optional field of 1..max code points.
  std::optional<std::string> text_field(const json::object& o, std::string_view key, std::string_view base,
                                        std::size_t max) {
    auto s = string_field(o, key, base, /*required=*/false);
    if (!s || !length_ok(*s, 1, max, join(base, key))) return std::nullopt;
    return std::string(*s);
  }

  void card(const json::object& c, std::string_view base, domain::CardInput& out) {
    reject_unknown(c, kCardFields, base);
    const bool has_number = find(c, "number") != nullptr;
    const bool has_token = find(c, "token") != nullptr;
    if (has_number == has_token) report(std::string(base), issue::kConflict);
    const bool number_mode = has_number && !has_token;
    const bool token_mode = has_token && !has_number;

    // Fields of the other mode are conflicts; their shape is not checked further.
    auto exclude = [&](std::string_view key) {
      if (find(c, key) == nullptr) return false;
      report(join(base, key), issue::kConflict);
      return true;
    };

    if (auto n = string_field(c, "number", base, false)) {
      // Digits first: "4242 4242 4242 4242" is a format error, not a length one.
      if (!domain::all_ascii_digits(*n)) {
        report(join(base, "number"), issue::kInvalidFormat);
      } else if (length_ok(*n, kMinPanLength, kMaxPanLength, join(base, "number"))) {
        out.number = std::string(*n);
      }
    }
    if (!(token_mode && exclude("expiry_month"))) {
      if (auto m = integer_field(c, "expiry_month", base, number_mode)) {
        if (*m < 1 || *m > 12) {
          report(join(base, "expiry_month"), issue::kOutOfRange);
        } else {
          out.expiry_month = static_cast<int>(*m);
        }
      }
    }
    if (!(token_mode && exclude("expiry_year"))) {
      if (auto y = integer_field(c, "expiry_year", base, number_mode)) {
        if (*y < 1000 || *y > 9999) {
          report(join(base, "expiry_year"), issue::kOutOfRange);
        } else {
          out.expiry_year = static_cast<int>(*y);
        }
      }
    }

    if (auto t = string_field(c, "token", base, false)) {
      if (length_ok(*t, 1, kMaxTokenLength, join(base, "token"))) out.token = std::string(*t);
    }
    if (!(number_mode && exclude("bin"))) {
      if (auto b = string_field(c, "bin", base, false)) {
        if (b->size() < 6 || b->size() > 8 || !domain::all_ascii_digits(*b)) {
          report(join(base, "bin"), issue::kInvalidFormat);
        } else {
          out.bin = std::string(*b);
        }
      }
    }
    if (!(number_mode && exclude("last4"))) {
      if (auto l = string_field(c, "last4", base, false)) {
        if (l->size() != 4 || !domain::all_ascii_digits(*l)) {
          report(join(base, "last4"), issue::kInvalidFormat);
        } else {
          out.last4 = std::string(*l);
        }
      }
    }
    if (!(number_mode && exclude("brand"))) out.brand = text_field(c, "brand", base, kMaxBrandLength);
  }

  void customer(const json::object& c, std::string_view base, domain::Customer& out) {
    reject_unknown(c, kCustomerFields, base);
    out.id = text_field(c, "id", base, kMaxCustomerIdLength);
    if (auto e = string_field(c, "email", base, false)) {
      if (utf8_length(*e) > domain::kMaxEmailLength) {
        report(join(base, "email"), issue::kTooLong);
      } else if (!domain::is_valid_email(*e)) {
        report(join(base, "email"), issue::kInvalidFormat);
      } else {
        out.email = std::string(*e);
      }
    }
    if (auto ip = string_field(c, "ip", base, false)) {
      if (!domain::is_ip_literal(*ip)) {
        report(join(base, "ip"), issue::kInvalidFormat);
      } else {
        out.ip = std::string(*ip);
      }
    }
    out.country = country_field(c, base);
    out.device_id = text_field(c, "device_id", base, kMaxCustomerIdLength);
  }

  void merchant(const json::object& m, std::string_view base, domain::Merchant& out) {
    reject_unknown(m, kMerchantFields, base);
    if (auto mcc = string_field(m, "mcc", base, false)) {
      if (!domain::is_valid_mcc(*mcc)) {
        report(join(base, "mcc"), issue::kInvalidFormat);
      } else {
        out.mcc = std::string(*mcc);
      }
    }
    out.country = country_field(m, base);
  }

  void metadata(const json::object& md, std::string_view base, domain::Metadata& out) {
    if (md.size() > kMaxMetadataEntries) report(std::string(base), issue::kTooMany);
    for (const auto& kv : md) {
      const std::string_view key = kv.key();
      const std::size_t key_length = utf8_length(key);
      if (key_length == 0 || key_length > kMaxMetadataKeyLength) {
        // Reported on "metadata" itself: an empty or overlong key makes a poor path.
        report(std::string(base), issue::kInvalidKey);
        continue;
      }
      if (domain::looks_like_card_number(key)) {
        // Named on "metadata": the key itself must not be echoed.
        report(std::string(base), issue::kLooksLikeCardNumber);
        continue;
      }
      const std::string field = join(base, mask_long_digit_runs(key));
      if (!kv.value().is_string()) {
        report(field, issue::kInvalidType);
        continue;
      }
      const json::string& v = kv.value().get_string();
      const std::string_view value(v.data(), v.size());
      if (utf8_length(value) > kMaxMetadataValueLength) {
        report(field, issue::kTooLong);
        continue;
      }
      if (domain::looks_like_card_number(value)) {
        report(field, issue::kLooksLikeCardNumber);
        continue;
      }
      out.emplace(std::string(key), std::string(value));
    }
  }

  void request(const json::object& body, std::string_view base, domain::TransactionRequest& out) {
    reject_unknown(body, kTopLevelFields, base);

    if (auto id = id_field(body, "transaction_id", base)) out.transaction_id = std::move(*id);
    if (auto id = id_field(body, "merchant_id", base)) out.merchant_id = std::move(*id);

    if (auto t = string_field(body, "type", base, false)) {
      if (auto parsed = domain::parse_transaction_type(*t)) {
        out.type = *parsed;
      } else {
        report(join(base, "type"), issue::kInvalidValue);
      }
    }

    if (auto a = integer_field(body, "amount", base, true)) {
      // A type that failed validation is not verification, so 0 is out of range with it.
      const std::int64_t min = out.type == domain::TransactionType::kVerification ? 0 : 1;
      if (*a < min || *a > kMaxAmount) {
        report(join(base, "amount"), issue::kOutOfRange);
      } else {
        out.amount = *a;
      }
    }

    if (auto c = string_field(body, "currency", base, true)) {
      if (auto info = domain::find_currency(*c)) {
        out.currency = std::string(info->code);
      } else {
        report(join(base, "currency"), issue::kUnknownCurrency);
      }
    }

    if (const json::object* c = object_field(body, "card", base, true)) card(*c, join(base, "card"), out.card);
    if (const json::object* c = object_field(body, "customer", base, false)) {
      out.has_customer = true;
      customer(*c, join(base, "customer"), out.customer);
    }
    if (const json::object* m = object_field(body, "merchant", base, false)) {
      out.has_merchant = true;
      merchant(*m, join(base, "merchant"), out.merchant);
    }

    if (auto t = string_field(body, "occurred_at", base, false)) {
      if (auto tp = domain::parse_rfc3339(*t)) {
        out.occurred_at = *tp;
      } else {
        report(join(base, "occurred_at"), issue::kInvalidFormat);
      }
    }

    if (const json::object* md = object_field(body, "metadata", base, false)) {
      metadata(*md, join(base, "metadata"), out.metadata);
    }
  }
};

}  // namespace

Result<domain::TransactionRequest> parse_transaction_request(const boost::json::value& body,
                                                             std::string_view field_prefix) {
  if (!field_prefix.empty() && field_prefix.back() == '.') field_prefix.remove_suffix(1);
  Checker checker;
  const json::object* o = body.if_object();
  if (o == nullptr) {
    checker.report(field_prefix.empty() ? std::string("body") : std::string(field_prefix), issue::kInvalidType);
    return make_error("validation_failed", "The request body must be a JSON object.", std::move(checker.issues));
  }
  domain::TransactionRequest out;
  checker.request(*o, field_prefix, out);
  if (!checker.issues.empty()) {
    return make_error("validation_failed", "The request has invalid fields; see details.", std::move(checker.issues));
  }
  return out;
}

}  // namespace txv::api
