#include "api/mapping/label_request.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "domain/time.h"

namespace txv::api {
namespace {

namespace json = boost::json;

const domain::TimePoint kNow = *domain::parse_rfc3339("2026-11-27T12:00:00Z");

std::vector<std::pair<std::string, std::string>> issues_of(const Result<store::Label>& r) {
  std::vector<std::pair<std::string, std::string>> out;
  if (r.ok()) return out;
  for (const auto& d : r.error().details) out.emplace_back(d.field, d.issue);
  return out;
}

TEST(LabelRequest, MinimalLabelDefaultsAtToNow) {
  auto r = parse_label_request(json::parse(R"({"label":"fraud","source":"chargeback"})"), "", false, kNow);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->value, store::LabelValue::kFraud);
  EXPECT_EQ(r->source, store::LabelSource::kChargeback);
  EXPECT_EQ(r->at, kNow);
  EXPECT_FALSE(r->reason.has_value());
  EXPECT_TRUE(r->merchant_id.empty());
}

TEST(LabelRequest, FullBatchItem) {
  auto r = parse_label_request(json::parse(R"({"merchant_id":"m-1","transaction_id":"t-1","label":"not_fraud",
      "source":"customer_report","reason":"customer confirmed","at":"2026-11-20T10:00:00+01:00"})"),
                               "labels[2]", true, kNow);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->merchant_id, "m-1");
  EXPECT_EQ(r->transaction_id, "t-1");
  EXPECT_EQ(r->value, store::LabelValue::kNotFraud);
  EXPECT_EQ(r->source, store::LabelSource::kCustomerReport);
  EXPECT_EQ(*r->reason, "customer confirmed");
  EXPECT_EQ(r->at, *domain::parse_rfc3339("2026-11-20T09:00:00Z"));
}

TEST(LabelRequest, EveryIssueNamesItsField) {
  auto r = parse_label_request(
      json::parse(R"({"label":"maybe","source":7,"reason":"","at":"yesterday","extra":1,"merchant_id":"m"})"), "",
      false, kNow);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kValidationFailed);
  auto issues = issues_of(r);
  auto has = [&](const char* f, const char* i) {
    return std::find(issues.begin(), issues.end(), std::make_pair(std::string(f), std::string(i))) != issues.end();
  };
  EXPECT_TRUE(has("label", "invalid_value"));
  EXPECT_TRUE(has("source", "invalid_type"));
  EXPECT_TRUE(has("reason", "too_short"));
  EXPECT_TRUE(has("at", "invalid_format"));
  EXPECT_TRUE(has("extra", "unknown_field"));
  EXPECT_TRUE(has("merchant_id", "unknown_field"));  // ids come from the path for a single label
  EXPECT_EQ(issues.size(), 6u);
}

TEST(LabelRequest, RequiredFieldsAndPrefix) {
  auto r = parse_label_request(json::parse(R"({"transaction_id":"t 1"})"), "labels[0].", true, kNow);
  auto issues = issues_of(r);
  std::vector<std::pair<std::string, std::string>> want = {{"labels[0].merchant_id", "required"},
                                                           {"labels[0].transaction_id", "invalid_format"},
                                                           {"labels[0].label", "required"},
                                                           {"labels[0].source", "required"}};
  EXPECT_EQ(issues, want);
  auto not_object = parse_label_request(json::parse("[1]"), "labels[4]", true, kNow);
  EXPECT_EQ(issues_of(not_object), (std::vector<std::pair<std::string, std::string>>{{"labels[4]", "invalid_type"}}));
}

TEST(LabelRequest, ReasonLimitsAndCardNumbers) {
  std::string long_reason(501, 'x');
  auto r = parse_label_request(json::value{{"label", "fraud"}, {"source", "manual"}, {"reason", long_reason}}, "",
                               false, kNow);
  EXPECT_EQ(issues_of(r), (std::vector<std::pair<std::string, std::string>>{{"reason", "too_long"}}));
  auto ok = parse_label_request(
      json::value{{"label", "fraud"}, {"source", "manual"}, {"reason", std::string(500, 'x')}}, "", false, kNow);
  EXPECT_TRUE(ok.ok());
  auto pan = parse_label_request(
      json::value{{"label", "fraud"}, {"source", "manual"}, {"reason", "card 4242 4242 4242 4242 stolen"}}, "", false,
      kNow);
  ASSERT_FALSE(pan.ok());
  EXPECT_EQ(issues_of(pan), (std::vector<std::pair<std::string, std::string>>{{"reason", "looks_like_card_number"}}));
  EXPECT_EQ(pan.error().message.find("4242"), std::string::npos);
}

TEST(LabelRequest, AtInTheFutureBeyondSkewIsRefused) {
  auto near = parse_label_request(json::parse(R"({"label":"fraud","source":"manual","at":"2026-11-27T12:04:00Z"})"), "",
                                  false, kNow);
  EXPECT_TRUE(near.ok());
  auto far = parse_label_request(json::parse(R"({"label":"fraud","source":"manual","at":"2026-11-28T12:00:00Z"})"), "",
                                 false, kNow);
  EXPECT_EQ(issues_of(far), (std::vector<std::pair<std::string, std::string>>{{"at", "out_of_range"}}));
}

}  // namespace
}  // namespace txv::api
