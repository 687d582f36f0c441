#include "metrics/metrics.h"

#include <gtest/gtest.h>

#include <random>
#include <sstream>

namespace txv::metrics {
namespace {

TEST(Metrics, RendersEveryContractMetric) {
  Metrics m({"1.2.3"});
  m.set_cache_degraded(true);
  m.observe_redis_round_trip(0.0003);
  m.observe_db_round_trip(0.002);
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
  EXPECT_NE(text.find("txv_cache_degraded 1"), std::string::npos) << text;
  EXPECT_NE(text.find("txv_redis_round_trip_seconds_bucket{le=\"0.0005\"} 1"), std::string::npos) << text;
  EXPECT_NE(text.find("txv_redis_round_trip_seconds_bucket{le=\"0.00025\"} 0"), std::string::npos) << text;
  EXPECT_NE(text.find("txv_db_round_trip_seconds_count 1"), std::string::npos) << text;
  EXPECT_NE(text.find("# TYPE txv_bugs_total counter\ntxv_bugs_total 0\n"), std::string::npos);
}

std::size_t count_lines_starting(const std::string& text, const std::string& prefix) {
  std::istringstream in(text);
  std::size_t n = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(prefix, 0) == 0) ++n;
  }
  return n;
}

TEST(Metrics, MethodLabelsAreBounded) {
  EXPECT_EQ(method_label("GET"), "GET");
  EXPECT_EQ(method_label("OPTIONS"), "OPTIONS");
  EXPECT_EQ(method_label("get"), "other");
  EXPECT_EQ(method_label(""), "other");
  EXPECT_EQ(method_label(std::string(15000, 'X')), "other");
}

// Issue 8, item 1: any method string became a label (2,000 requests with 15 KB
// methods: +29 MB for good). Now distinct methods all land in "other".
TEST(Metrics, DistinctMethodsCreateABoundedNumberOfSeries) {
  Metrics m({"t"});
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    std::string method(200 + rng() % 100, 'A');
    for (auto& c : method) c = static_cast<char>('A' + rng() % 26);
    m.observe_http_request("unmatched", method, 404, 0.001);
  }
  m.observe_http_request("unmatched", "GET", 404, 0.001);
  std::string text = m.render();
  EXPECT_EQ(count_lines_starting(text, "txv_http_requests_total{"), 2u) << text;
  EXPECT_NE(text.find("txv_http_requests_total{method=\"other\",route=\"unmatched\",status=\"404\"} 2000"),
            std::string::npos)
      << text;
  EXPECT_LT(text.size(), 8000u);
}

TEST(Metrics, RouteHandlesCountWithoutRelookup) {
  Metrics m({"t"});
  auto& route = m.http_route("/v1/rules/{id}");
  EXPECT_EQ(&route, &m.http_route("/v1/rules/{id}"));
  // More (method, status) pairs than the lock-free table holds: still exact.
  for (int status = 100; status < 200; ++status) m.observe_http_request(route, "GET", status, 0.001);
  for (int status = 100; status < 200; ++status) m.observe_http_request(route, "GET", status, 0.001);
  std::string text = m.render();
  EXPECT_EQ(count_lines_starting(text, "txv_http_requests_total{"), 100u);
  EXPECT_NE(text.find("txv_http_requests_total{method=\"GET\",route=\"/v1/rules/{id}\",status=\"150\"} 2"),
            std::string::npos);
  EXPECT_NE(text.find("txv_http_request_duration_seconds_count{route=\"/v1/rules/{id}\"} 200"), std::string::npos)
      << text;
}

TEST(Metrics, AcceptErrorsByReason) {
  Metrics m({"t"});
  m.count_accept_error("emfile");
  m.count_accept_error("emfile");
  m.count_accept_error("enfile");
  m.count_accept_error("something else");
  std::string text = m.render();
  EXPECT_NE(text.find("txv_accept_errors_total{reason=\"emfile\"} 2"), std::string::npos) << text;
  EXPECT_NE(text.find("txv_accept_errors_total{reason=\"enfile\"} 1"), std::string::npos);
  EXPECT_NE(text.find("txv_accept_errors_total{reason=\"enobufs\"} 0"), std::string::npos);
  EXPECT_NE(text.find("txv_accept_errors_total{reason=\"other\"} 1"), std::string::npos);
}

}  // namespace
}  // namespace txv::metrics
