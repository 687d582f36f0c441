#include "metrics/metrics.h"

#include <gtest/gtest.h>

namespace txv::metrics {
namespace {

TEST(Metrics, RendersEveryContractMetric) {
  Metrics m({"1.2.3"});
  m.count_decision("decline");
  m.observe_http_request("/v1/transactions/validate", "POST", 200, 0.002);
  m.count_rule_match("r1", "enforce");
  m.count_cache_error();
  m.set_before_render([](Metrics& self) { self.set_db_pool(3, 1); });
  std::string text = m.render();
  EXPECT_NE(text.find("txv_decisions_total{decision=\"decline\"} 1"), std::string::npos) << text;
  EXPECT_NE(text.find("txv_decisions_total{decision=\"approve\"} 0"), std::string::npos);
  EXPECT_NE(text.find("txv_http_requests_total{method=\"POST\",route=\"/v1/transactions/validate\",status=\"200\"} 1"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("txv_http_request_duration_seconds_bucket{route=\"/v1/transactions/validate\",le=\"0.0025\"} 1"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("txv_rule_matches_total{mode=\"enforce\",rule_id=\"r1\"} 1"), std::string::npos);
  EXPECT_NE(text.find("txv_db_pool_connections{state=\"idle\"} 3"), std::string::npos);
  EXPECT_NE(text.find("txv_db_pool_connections{state=\"in_use\"} 1"), std::string::npos);
  EXPECT_NE(text.find("txv_cache_errors_total 1"), std::string::npos);
  EXPECT_NE(text.find("txv_build_info{version=\"1.2.3\"} 1"), std::string::npos);
}

}  // namespace
}  // namespace txv::metrics
