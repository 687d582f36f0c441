#include "api/mapping/transaction_json.h"

#include <boost/json.hpp>

#include "domain/time.h"
#include "store/record_json.h"

namespace txv::api {
namespace {

namespace json = boost::json;

json::value string_or_null(const std::string& s) { return s.empty() ? json::value(nullptr) : json::value(s); }

json::object render_card(const domain::CardSummary& c) {
  json::object o;
  o["brand"] = string_or_null(c.brand);
  o["bin"] = string_or_null(c.bin);
  o["last4"] = string_or_null(c.last4);
  o["fingerprint"] = c.fingerprint;
  return o;
}

void put_optional(json::object& o, std::string_view key, const std::optional<std::string>& v) {
  if (v) o[key] = *v;
}

json::object render_customer(const domain::Customer& c) {
  json::object o;
  put_optional(o, "id", c.id);
  put_optional(o, "email", c.email);
  put_optional(o, "ip", c.ip);
  put_optional(o, "country", c.country);
  put_optional(o, "device_id", c.device_id);
  return o;
}

json::object render_merchant(const domain::Merchant& m) {
  json::object o;
  put_optional(o, "mcc", m.mcc);
  put_optional(o, "country", m.country);
  return o;
}

// Members shared by both answers, up to and including `card`.
json::object decision_fields(const domain::DecisionRecord& r) {
  json::object o;
  o["transaction_id"] = r.transaction_id;
  o["merchant_id"] = r.merchant_id;
  o["decision"] = domain::to_string(r.decision);
  o["reasons"] = store::reasons_to_json(r.reasons);
  o["shadow_matches"] = store::shadow_matches_to_json(r.shadow_matches);
  o["rules_version"] = r.rules_version;
  o["card"] = render_card(r.card);
  return o;
}

}  // namespace

boost::json::object render_decision(const domain::DecisionRecord& r, bool replayed) {
  json::object o = decision_fields(r);
  o["replayed"] = replayed;
  o["decided_at"] = domain::format_rfc3339(r.decided_at);
  return o;
}

boost::json::object render_record(const domain::DecisionRecord& r) {
  json::object o = decision_fields(r);
  o["decided_at"] = domain::format_rfc3339(r.decided_at);
  o["type"] = domain::to_string(r.type);
  o["amount"] = r.amount;
  o["currency"] = r.currency;
  o["occurred_at"] = domain::format_rfc3339(r.occurred_at);
  if (r.has_customer) o["customer"] = render_customer(r.customer);
  if (r.has_merchant) o["merchant"] = render_merchant(r.merchant);
  json::object md;
  for (const auto& [k, v] : r.metadata) md[k] = v;
  o["metadata"] = std::move(md);
  if (r.resolution) {
    json::object res;
    res["decision"] = domain::to_string(r.resolution->decision);
    res["note"] = r.resolution->note;
    res["by"] = r.resolution->by;
    res["at"] = domain::format_rfc3339(r.resolution->at);
    o["resolution"] = std::move(res);
  }
  return o;
}

}  // namespace txv::api
