#include "api/mapping/transaction_json.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "domain/time.h"

namespace txv::api {
namespace {

namespace json = boost::json;
using domain::Decision;
using domain::RuleAction;

domain::TimePoint at(const char* s) { return domain::parse_rfc3339(s).value(); }

domain::DecisionRecord sample() {
  domain::DecisionRecord r;
  r.merchant_id = "m-42";
  r.transaction_id = "ord-1001";
  r.request_hash = "ab12";
  r.type = domain::TransactionType::kPurchase;
  r.amount = 12550;
  r.currency = "USD";
  r.decision = Decision::kReview;
  r.reasons = {{"card_expired", "check", "", RuleAction::kDecline},
               {"high_amount", "rule", "r-1", RuleAction::kReview}};
  r.shadow_matches = {{"r-9", RuleAction::kDecline, "velocity_card"}};
  r.rules_version = 7;
  r.card = {"visa", "424242", "4242", "0123456789abcdef0123456789abcdef"};
  r.has_customer = true;
  r.customer.id = "c-7";
  r.customer.country = "US";
  r.has_merchant = true;
  r.merchant.mcc = "5411";
  r.metadata = {{"channel", "web"}};
  r.occurred_at = at("2026-11-24T10:00:00Z");
  r.decided_at = at("2026-11-24T10:00:00.123Z");
  r.seq = 99;
  return r;
}

std::vector<std::string> keys(const json::object& o) {
  std::vector<std::string> out;
  for (const auto& kv : o) out.emplace_back(kv.key());
  return out;
}

TEST(RenderDecision, ContractShape) {
  const json::object o = render_decision(sample(), false);
  EXPECT_EQ(keys(o), (std::vector<std::string>{"transaction_id", "merchant_id", "decision", "reasons", "shadow_matches",
                                               "rules_version", "card", "replayed", "decided_at"}));
  EXPECT_EQ(json::serialize(o),
            R"({"transaction_id":"ord-1001","merchant_id":"m-42","decision":"review",)"
            R"("reasons":[{"code":"card_expired","source":"check","action":"decline"},)"
            R"({"code":"high_amount","source":"rule","rule_id":"r-1","action":"review"}],)"
            R"("shadow_matches":[{"rule_id":"r-9","action":"decline","code":"velocity_card"}],)"
            R"("rules_version":7,)"
            R"("card":{"brand":"visa","bin":"424242","last4":"4242","fingerprint":"0123456789abcdef0123456789abcdef"},)"
            R"("replayed":false,"decided_at":"2026-11-24T10:00:00.123Z"})");
}

TEST(RenderDecision, ReplayedAndEmptyLists) {
  domain::DecisionRecord r = sample();
  r.decision = Decision::kApprove;
  r.reasons.clear();
  r.shadow_matches.clear();
  const json::object o = render_decision(r, true);
  EXPECT_EQ(o.at("replayed"), json::value(true));
  EXPECT_EQ(o.at("decision"), json::value("approve"));
  EXPECT_TRUE(o.at("reasons").as_array().empty());
  EXPECT_TRUE(o.at("shadow_matches").as_array().empty());
}

TEST(RenderDecision, UnknownCardFieldsAreNull) {
  domain::DecisionRecord r = sample();
  r.card = {"", "", "", "ffffffffffffffffffffffffffffffff"};
  const json::object card = render_decision(r, false).at("card").as_object();
  EXPECT_TRUE(card.at("brand").is_null());
  EXPECT_TRUE(card.at("bin").is_null());
  EXPECT_TRUE(card.at("last4").is_null());
  EXPECT_EQ(card.at("fingerprint"), json::value("ffffffffffffffffffffffffffffffff"));
}

TEST(RenderRecord, StoredRecordShape) {
  const json::object o = render_record(sample());
  EXPECT_EQ(keys(o), (std::vector<std::string>{"transaction_id", "merchant_id", "decision", "reasons", "shadow_matches",
                                               "rules_version", "card", "decided_at", "type", "amount", "currency",
                                               "occurred_at", "customer", "merchant", "metadata"}));
  EXPECT_FALSE(o.contains("replayed"));
  EXPECT_FALSE(o.contains("resolution"));
  EXPECT_FALSE(o.contains("request_hash"));
  EXPECT_FALSE(o.contains("seq"));
  EXPECT_EQ(o.at("type"), json::value("purchase"));
  EXPECT_EQ(o.at("amount"), json::value(12550));
  EXPECT_EQ(o.at("currency"), json::value("USD"));
  EXPECT_EQ(o.at("occurred_at"), json::value("2026-11-24T10:00:00.000Z"));
  EXPECT_EQ(o.at("decided_at"), json::value("2026-11-24T10:00:00.123Z"));
  // Only the sub-fields that were sent.
  EXPECT_EQ(json::serialize(o.at("customer")), R"({"id":"c-7","country":"US"})");
  EXPECT_EQ(json::serialize(o.at("merchant")), R"({"mcc":"5411"})");
  EXPECT_EQ(json::serialize(o.at("metadata")), R"({"channel":"web"})");
  EXPECT_EQ(o.at("reasons"), render_decision(sample(), false).at("reasons"));
}

TEST(RenderRecord, AbsentCustomerMerchantAndEmptyMetadata) {
  domain::DecisionRecord r = sample();
  r.has_customer = false;
  r.has_merchant = false;
  r.metadata.clear();
  const json::object o = render_record(r);
  EXPECT_FALSE(o.contains("customer"));
  EXPECT_FALSE(o.contains("merchant"));
  EXPECT_EQ(o.at("metadata"), json::object{});
}

TEST(RenderRecord, EmptyButSentCustomer) {
  domain::DecisionRecord r = sample();
  r.customer = {};
  const json::object o = render_record(r);
  EXPECT_EQ(o.at("customer"), json::object{});
}

TEST(RenderRecord, AllCustomerFields) {
  domain::DecisionRecord r = sample();
  r.customer = {"c-7", "a@example.com", "2001:db8::1", "US", "d-1"};
  r.merchant = {"5411", "DE"};
  const json::object o = render_record(r);
  EXPECT_EQ(json::serialize(o.at("customer")),
            R"({"id":"c-7","email":"a@example.com","ip":"2001:db8::1","country":"US","device_id":"d-1"})");
  EXPECT_EQ(json::serialize(o.at("merchant")), R"({"mcc":"5411","country":"DE"})");
}

TEST(RenderRecord, Resolution) {
  domain::DecisionRecord r = sample();
  r.resolution = domain::Resolution{Decision::kDecline, "stolen card", "analyst-1", at("2026-11-25T08:30:00Z")};
  const json::object o = render_record(r);
  EXPECT_EQ(keys(o).back(), "resolution");
  EXPECT_EQ(json::serialize(o.at("resolution")),
            R"({"decision":"decline","note":"stolen card","by":"analyst-1","at":"2026-11-25T08:30:00.000Z"})");
  EXPECT_EQ(o.at("decision"), json::value("review"));  // the original decision stays
}

}  // namespace
}  // namespace txv::api
