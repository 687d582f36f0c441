#include "http/dispatcher.h"

#include <gtest/gtest.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <random>
#include <sstream>
#include <stdexcept>

#include "http/test_support.h"

namespace txv::http {
namespace {

using testing::render_error;
using testing::run_task;

std::size_t count_lines_starting(const std::string& text, const std::string& prefix) {
  std::istringstream in(text);
  std::size_t n = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(prefix, 0) == 0) ++n;
  }
  return n;
}

std::string header_value(const Response& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

constexpr std::uint32_t kAuthenticated = 1;

struct Fixture {
  metrics::Metrics metrics{{"test"}};
  Router router;
  int handler_calls = 0;
  int admission_calls = 0;
  std::unique_ptr<Dispatcher> dispatcher;

  Fixture() {
    router.add("GET", "/public", {}, [this](Request&) -> Task<Response> {
      ++handler_calls;
      co_return Response{200, "{}", "application/json", {}};
    });
    router.add("POST", "/v1/things", RouteOptions{kAuthenticated, 1024 * 1024}, [this](Request& r) -> Task<Response> {
      ++handler_calls;
      Response out;
      out.body = std::any_cast<std::string>(r.principal);
      co_return out;
    });
    router.add("GET", "/throws", {}, [](Request&) -> Task<Response> {
      throw std::runtime_error("boom");
      co_return Response{};
    });
    router.add("GET", "/throws-later", {}, [](Request&) -> Task<Response> {
      asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::milliseconds(1));
      co_await timer.async_wait(asio::use_awaitable);
      throw 42;
    });
    dispatcher = std::make_unique<Dispatcher>(
        router, metrics, render_error, [this](Request& r, const RouteOptions& route) -> Task<std::optional<Response>> {
          ++admission_calls;
          EXPECT_EQ(route.access, kAuthenticated);
          if (!r.header("authorization")) co_return render_error(401, make_error("unauthorized", "no key"));
          r.principal = std::string("alice");
          co_return std::nullopt;
        });
  }

  Request request(std::string method, std::string path) {
    Request r;
    r.method = std::move(method);
    r.path = std::move(path);
    return r;
  }

  // Both phases, as the transport runs them.
  Response exchange(Request& r) {
    HeaderVerdict v = run_task(dispatcher->on_headers(r));
    if (v.answer) return *v.answer;
    return run_task(dispatcher->on_body(r));
  }
};

TEST(Dispatcher, UnknownPathIs404AndWrongMethod405WithAllow) {
  Fixture f;
  auto r = f.request("GET", "/nope");
  HeaderVerdict v = run_task(f.dispatcher->on_headers(r));
  ASSERT_TRUE(v.answer);
  EXPECT_EQ(v.answer->status, 404);
  r = f.request("DELETE", "/public");
  v = run_task(f.dispatcher->on_headers(r));
  ASSERT_TRUE(v.answer);
  EXPECT_EQ(v.answer->status, 405);
  EXPECT_EQ(header_value(*v.answer, "Allow"), "GET, HEAD");
  EXPECT_EQ(f.admission_calls, 0);
}

TEST(Dispatcher, PublicRoutesSkipAdmission) {
  Fixture f;
  auto r = f.request("GET", "/public");
  HeaderVerdict v = run_task(f.dispatcher->on_headers(r));
  EXPECT_FALSE(v.answer);
  EXPECT_EQ(v.max_body_bytes, 64u * 1024);
  EXPECT_EQ(run_task(f.dispatcher->on_body(r)).status, 200);
  EXPECT_EQ(f.admission_calls, 0);
  EXPECT_EQ(f.handler_calls, 1);
}

TEST(Dispatcher, AdmissionRefusesOnTheHeadersOrSetsThePrincipal) {
  Fixture f;
  auto r = f.request("POST", "/v1/things");
  HeaderVerdict v = run_task(f.dispatcher->on_headers(r));
  ASSERT_TRUE(v.answer);
  EXPECT_EQ(v.answer->status, 401);
  EXPECT_FALSE(header_value(*v.answer, "X-Request-Id").empty());
  EXPECT_EQ(f.handler_calls, 0);

  r = f.request("POST", "/v1/things");
  r.headers["authorization"] = "Bearer k";
  v = run_task(f.dispatcher->on_headers(r));
  ASSERT_FALSE(v.answer);
  EXPECT_EQ(v.max_body_bytes, 1024u * 1024);  // the route's limit, once admitted
  r.body = "{}";
  r.headers["content-type"] = "application/json; charset=utf-8";
  Response out = run_task(f.dispatcher->on_body(r));
  EXPECT_EQ(out.status, 200);
  EXPECT_EQ(out.body, "alice");
}

TEST(Dispatcher, BodyThatIsNotJsonIs415) {
  Fixture f;
  auto r = f.request("POST", "/v1/things");
  r.headers["authorization"] = "Bearer k";
  r.headers["content-type"] = "text/plain";
  ASSERT_FALSE(run_task(f.dispatcher->on_headers(r)).answer);
  r.body = "{}";
  EXPECT_EQ(run_task(f.dispatcher->on_body(r)).status, 415);
  EXPECT_EQ(f.handler_calls, 0);
}

TEST(Dispatcher, ExceptionsFromHandlersAre500AndCounted) {
  Fixture f;
  auto r = f.request("GET", "/throws");
  Response out = f.exchange(r);
  EXPECT_EQ(out.status, 500);
  EXPECT_NE(out.body.find("\"internal\""), std::string::npos);
  // Thrown after the handler was suspended: surfaces at the co_await, caught there.
  r = f.request("GET", "/throws-later");
  EXPECT_EQ(f.exchange(r).status, 500);
  EXPECT_NE(f.metrics.render().find("txv_unhandled_exceptions_total 2"), std::string::npos);
}

TEST(Dispatcher, RequestIdFromTheClientOnlyWhenSaneAndNotACardNumber) {
  Fixture f;
  auto r = f.request("GET", "/public");
  r.headers["x-request-id"] = "abc-123:x.y_z";
  EXPECT_EQ(header_value(f.exchange(r), "X-Request-Id"), "abc-123:x.y_z");

  for (std::string bad : {std::string("has space"), std::string(129, 'a'), std::string("4111111111111111"),
                          std::string("4111-1111-1111-1111"), std::string("")}) {
    r = f.request("GET", "/public");
    r.headers["x-request-id"] = bad;
    std::string got = header_value(f.exchange(r), "X-Request-Id");
    EXPECT_NE(got, bad);
    EXPECT_TRUE(acceptable_request_id(got)) << got;
  }
}

TEST(Dispatcher, GeneratedRequestIdsCarryNoLongDigitRuns) {
  for (int i = 0; i < 2000; ++i) {
    std::string id = generate_request_id();
    ASSERT_TRUE(acceptable_request_id(id)) << id;
    int run = 0, longest = 0;
    for (char c : id) {
      run = std::isdigit(static_cast<unsigned char>(c)) ? run + 1 : 0;
      longest = std::max(longest, run);
    }
    ASSERT_LT(longest, 12) << id;
  }
}

TEST(Dispatcher, TransportErrorsNameTheRealLimit) {
  Fixture f;
  Request r = f.request("PUT", "/v1/lists/x");
  EXPECT_NE(f.dispatcher->transport_error(413, r, 64 * 1024).body.find("request body exceeds 64 KiB"),
            std::string::npos);
  EXPECT_NE(f.dispatcher->transport_error(413, r, 1024 * 1024).body.find("request body exceeds 1 MiB"),
            std::string::npos);
  EXPECT_NE(f.dispatcher->transport_error(413, r, 128u << 20).body.find("request body exceeds 128 MiB"),
            std::string::npos);
  Response bad = f.dispatcher->transport_error(400, r, 0, "two Authorization headers");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("malformed_request"), std::string::npos);
  EXPECT_NE(bad.body.find("two Authorization headers"), std::string::npos);
  EXPECT_EQ(format_byte_size(1000), "1000 bytes");
  EXPECT_EQ(format_byte_size(1536), "1536 bytes");
  EXPECT_EQ(format_byte_size(2048), "2 KiB");
}

// Issue 8, item 1: 2,000 requests with distinct random methods and paths
// create a bounded number of series (404/405/400 are "unmatched", methods
// outside the known set are "other").
TEST(Dispatcher, MetricsSeriesStayBoundedWhateverTheMethodsAndPaths) {
  Fixture f;
  std::mt19937 rng(11);
  auto random_token = [&](std::size_t n) {
    std::string s(n, 'A');
    for (auto& c : s) c = static_cast<char>('A' + rng() % 26);
    return s;
  };
  for (int i = 0; i < 2000; ++i) {
    std::string method = random_token(50 + rng() % 200);
    std::string path = "/" + random_token(20) + "/" + std::to_string(i);
    Request r;
    switch (i % 4) {
      case 0:  // unknown path
        r = f.request(method, path);
        break;
      case 1:  // known path, unknown method: 405
        r = f.request(method, "/public");
        break;
      case 2:  // known method, unknown path
        r = f.request("GET", path);
        break;
      default:  // refused by the transport
        r = f.request(method, path);
        f.dispatcher->transport_error(400, r, 0);
        continue;
    }
    f.exchange(r);
  }
  std::string text = f.metrics.render();
  std::size_t series = count_lines_starting(text, "txv_http_requests_total{");
  EXPECT_LE(series, 4u) << text;
  EXPECT_EQ(count_lines_starting(text, "txv_http_request_duration_seconds_count{"), f.router.size() + 1);
  EXPECT_EQ(text.find("AAAA"), std::string::npos);
  EXPECT_LT(text.size(), 20000u);
  EXPECT_NE(text.find("txv_http_requests_total{method=\"other\",route=\"unmatched\",status=\"404\"} 500"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("txv_http_requests_total{method=\"other\",route=\"unmatched\",status=\"405\"} 500"),
            std::string::npos);
  EXPECT_NE(text.find("txv_http_requests_total{method=\"GET\",route=\"unmatched\",status=\"404\"} 500"),
            std::string::npos);
}

TEST(Dispatcher, MetricsUseTheRouteTemplate) {
  Fixture f;
  auto r = f.request("POST", "/v1/things");
  r.headers["authorization"] = "Bearer k";
  f.exchange(r);
  std::string text = f.metrics.render();
  EXPECT_NE(text.find("txv_http_requests_total{method=\"POST\",route=\"/v1/things\",status=\"200\"} 1"),
            std::string::npos)
      << text;
}

}  // namespace
}  // namespace txv::http
