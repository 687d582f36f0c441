// The server over real sockets: a Server on port 0 with coroutine handlers
// and a fake admission hook that refuses a request without Authorization.
#include "http/server.h"

#include <gtest/gtest.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <future>
#include <memory>
#include <thread>
#include <vector>

#include "http/test_support.h"
#include "logging/log.h"

namespace txv::http {
namespace {

using testing::render_error;

using testing::Client;
using testing::RawResponse;

constexpr std::uint32_t kAuthenticated = 1;
constexpr int kConcurrent = 200;

// One access-log line per request is noise here; errors still show.
class QuietLogs : public ::testing::Environment {
 public:
  void SetUp() override {
    logging::init("error");
    std::signal(SIGPIPE, SIG_IGN);  // OpenSSL writes with write(2): a reset peer must fail a test, not kill it
  }
};
[[maybe_unused]] const auto* const kQuietLogs = ::testing::AddGlobalTestEnvironment(new QuietLogs);

Response text(std::string body) {
  Response r;
  r.body = std::move(body);
  return r;
}

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router_.add("GET", "/hello", {}, [this](Request&) -> Task<Response> {
      ++hello_calls_;
      co_return text("hi");
    });
    router_.add("GET", "/smuggled", {}, [this](Request&) -> Task<Response> {
      ++smuggled_calls_;
      co_return text("smuggled");
    });
    router_.add("POST", "/open", RouteOptions{0, 1024}, [this](Request& r) -> Task<Response> {
      ++open_calls_;
      co_return text(std::to_string(r.body.size()));
    });
    router_.add("POST", "/open64", {},
                [](Request& r) -> Task<Response> { co_return text(std::to_string(r.body.size())); });
    router_.add("GET", "/private", RouteOptions{kAuthenticated}, [this](Request&) -> Task<Response> {
      ++private_calls_;
      co_return text("secret");
    });
    router_.add("POST", "/admitted", RouteOptions{kAuthenticated, 1024 * 1024}, [this](Request& r) -> Task<Response> {
      ++admitted_calls_;
      co_return text(std::to_string(r.body.size()));
    });
    router_.add("PUT", "/big", RouteOptions{kAuthenticated, 128u << 20}, [this](Request& r) -> Task<Response> {
      ++big_calls_;
      co_return text(std::to_string(r.body.size()));
    });
    router_.add("GET", "/slow", {}, [this](Request&) -> Task<Response> {
      // Suspends on a 50 ms timer, again and again until every concurrent
      // request has arrived: only possible when waiting frees the I/O thread.
      int now = ++suspended_;
      for (int peak = peak_.load(); now > peak && !peak_.compare_exchange_weak(peak, now);) {
      }
      ++arrived_;
      asio::steady_timer timer(co_await asio::this_coro::executor);
      for (int i = 0; i < 600; ++i) {
        timer.expires_after(std::chrono::milliseconds(50));
        co_await timer.async_wait(asio::use_awaitable);
        if (arrived_.load() >= kConcurrent) break;
      }
      --suspended_;
      co_return text("slow");
    });
    router_.add("GET", "/gate", {}, [this](Request&) -> Task<Response> {
      auto executor = co_await asio::this_coro::executor;
      asio::steady_timer timer(executor, std::chrono::steady_clock::time_point::max());
      gate_timer_ = &timer;
      gate_executor_ = executor;
      gate_entered_.set_value();
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      co_return text("released");
    });
    dispatcher_ = std::make_unique<Dispatcher>(router_, metrics_, render_error,
                                               [](Request& r, const RouteOptions&) -> Task<std::optional<Response>> {
                                                 if (!r.header("authorization"))
                                                   co_return render_error(401, make_error("unauthorized", "no key"));
                                                 co_return std::nullopt;
                                               });
    ServerOptions options;
    options.port = 0;
    options.threads = 2;
    server_ = std::make_unique<Server>(options, *dispatcher_);
    ASSERT_TRUE(server_->start().ok());
    port_ = server_->bound_port();
  }

  void TearDown() override { server_->stop(); }

  metrics::Metrics metrics_{{"test"}};
  Router router_;
  std::unique_ptr<Dispatcher> dispatcher_;
  std::unique_ptr<Server> server_;
  unsigned short port_ = 0;
  std::atomic<int> hello_calls_{0}, smuggled_calls_{0}, open_calls_{0}, private_calls_{0}, admitted_calls_{0},
      big_calls_{0};
  std::atomic<int> suspended_{0}, peak_{0}, arrived_{0};
  std::promise<void> gate_entered_;
  asio::steady_timer* gate_timer_ = nullptr;
  Executor gate_executor_;
};

const char* kSmuggled = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";

struct SmugglingCase {
  const char* name;
  std::string request;  // followed by kSmuggled
};

TEST_F(ServerTest, AmbiguousFramingIs400AndClosesAndTheSmuggledRequestNeverRuns) {
  const std::string post = "POST /open HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n";
  const std::vector<SmugglingCase> cases = {
      {"TE xchunked", post + "Transfer-Encoding: xchunked\r\n\r\n"},
      {"TE gzip", post + "Transfer-Encoding: gzip\r\n\r\n"},
      {"TE chunked, identity", post + "Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n"},
      {"TE gzip, chunked", post + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"},
      {"TE on two lines", post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
      {"TE empty element", post + "Transfer-Encoding: chunked,\r\n\r\n0\r\n\r\n"},
      {"TE on HTTP/1.0",
       "POST /open HTTP/1.0\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: "
       "chunked\r\n\r\n0\r\n\r\n"},
      {"CL then TE", post + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
      {"TE then CL", post + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n"},
      {"TE gzip and CL", post + "Transfer-Encoding: gzip\r\nContent-Length: 0\r\n\r\n"},
      {"conflicting CL", post + "Content-Length: 0\r\nContent-Length: 35\r\n\r\n"},
      {"conflicting CL list", post + "Content-Length: 0, 35\r\n\r\n"},
      {"obs-fold", "GET /hello HTTP/1.1\r\nHost: x\r\nX-Note: a\r\n b\r\n\r\n"},
      {"obs-fold with tab", "GET /hello HTTP/1.1\r\nHost: x\r\nX-Note: a\r\n\tb\r\n\r\n"},
      {"folded TE", post + "Transfer-Encoding: gzip\r\n , chunked\r\n\r\n0\r\n\r\n"},
      {"space before the first field", "GET /hello HTTP/1.1\r\n Host: x\r\n\r\n"},
      {"two Authorization",
       "GET /hello HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer a\r\nAuthorization: Bearer b\r\n\r\n"},
      {"two Host", "GET /hello HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Client client(port_);
    ASSERT_TRUE(client.send(c.request + kSmuggled));
    auto r = client.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400);
    EXPECT_NE(r->body.find("malformed_request"), std::string::npos) << r->body;
    EXPECT_EQ(r->header("connection"), "close");
    std::string rest;
    EXPECT_TRUE(client.read_until_closed(&rest));  // the server closed the connection
    EXPECT_EQ(rest.find("HTTP/1."), std::string::npos) << "a second response: " << rest;
  }
  EXPECT_EQ(smuggled_calls_.load(), 0);
  EXPECT_EQ(hello_calls_.load(), 0);
  EXPECT_EQ(open_calls_.load(), 0);

  // The smuggled request itself runs when sent as a request.
  Client control(port_);
  ASSERT_TRUE(control.send(kSmuggled));
  auto r = control.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(smuggled_calls_.load(), 1);
}

TEST_F(ServerTest, ChunkedIsCaseInsensitiveAndReadAsTheBody) {
  Client client(port_);
  ASSERT_TRUE(client.send(
      "POST /open HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: Chunked\r\n\r\n"
      "2\r\n{}\r\n0\r\n\r\n"));
  auto r = client.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "2");
}

TEST_F(ServerTest, RefusedOnTheHeadersWithoutReadingTheBody) {
  Client client(port_);
  // Declares 100 MB and sends none of it: the 401 comes at once.
  ASSERT_TRUE(client.send(
      "POST /admitted HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n"));
  auto r = client.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_FALSE(r->header("x-request-id").empty());
  EXPECT_TRUE(client.read_until_closed());
  EXPECT_EQ(admitted_calls_.load(), 0);
}

TEST_F(ServerTest, RefusalOfARequestWithoutBodyKeepsTheConnection) {
  Client client(port_);
  ASSERT_TRUE(client.send("GET /private HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto r = client.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(r->header("connection"), "");
  ASSERT_TRUE(client.send("GET /private HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n\r\n"));
  r = client.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "secret");
  ASSERT_TRUE(client.send("GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n"));
  r = client.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  ASSERT_TRUE(client.send("DELETE /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  r = client.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->header("allow"), "GET, HEAD");
  EXPECT_EQ(private_calls_.load(), 1);
}

TEST_F(ServerTest, DeclaredBodyOverTheRoutesLimitIs413NamingTheLimit) {
  struct LimitCase {
    std::string head;
    const char* message;
  };
  const std::vector<LimitCase> cases = {
      {"POST /admitted HTTP/1.1\r\nAuthorization: Bearer k\r\nContent-Length: 2097152\r\n",
       "request body exceeds 1 MiB"},
      {"PUT /big HTTP/1.1\r\nAuthorization: Bearer k\r\nContent-Length: 134217729\r\n", "request body exceeds 128 MiB"},
      {"POST /open64 HTTP/1.1\r\nContent-Length: 65537\r\n", "request body exceeds 64 KiB"},
      {"POST /open HTTP/1.1\r\nContent-Length: 1025\r\n", "request body exceeds 1 KiB"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.message);
    Client client(port_);
    ASSERT_TRUE(client.send(c.head + "Host: x\r\nContent-Type: application/json\r\n\r\n"));
    auto r = client.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 413);
    EXPECT_NE(r->body.find(c.message), std::string::npos) << r->body;
    EXPECT_EQ(r->header("connection"), "close");
    EXPECT_TRUE(client.read_until_closed());
  }
  EXPECT_EQ(admitted_calls_.load() + big_calls_.load() + open_calls_.load(), 0);
}

TEST_F(ServerTest, BodyOverTheLimitSentWholeBeforeReadingStillGets413) {
  // Chunked: the size is only known while reading.
  {
    Client client(port_);
    std::string chunk(1000, 'x');
    std::string request =
        "POST /open HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 3; ++i) request += "3e8\r\n" + chunk + "\r\n";
    request += "0\r\n\r\n";
    ASSERT_TRUE(client.send(request));
    auto r = client.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 413);
    EXPECT_NE(r->body.find("request body exceeds 1 KiB"), std::string::npos) << r->body;
  }
  // Content-Length, the whole body written before reading (the server answers
  // early, then discards the rest instead of resetting the connection).
  {
    Client client(port_);
    std::string body(4 * 1024 * 1024, 'x');
    ASSERT_TRUE(client.send("POST /open64 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
                            std::to_string(body.size()) + "\r\n\r\n" + body));
    auto r = client.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 413);
  }
  EXPECT_EQ(open_calls_.load(), 0);
}

TEST_F(ServerTest, ABodyWithinTheLimitIsRead) {
  Client client(port_);
  std::string body(1024 * 1024, 'x');
  ASSERT_TRUE(
      client.send("POST /admitted HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n"
                  "Content-Type: application/json\r\nContent-Length: " +
                  std::to_string(body.size()) + "\r\n\r\n" + body));
  auto r = client.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, std::to_string(body.size()));
}

TEST_F(ServerTest, ClientThatDeclares128MiBAndLeavesAfter10BytesNeverReachesTheHandler) {
  {
    Client client(port_);
    ASSERT_TRUE(
        client.send("PUT /big HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\nContent-Type: application/json\r\n"
                    "Content-Length: 134217728\r\nExpect: 100-continue\r\n\r\n"));
    // 100 Continue comes once the request was admitted: it is reading the body now.
    auto r = client.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 100);
    ASSERT_TRUE(client.send("0123456789"));
  }  // closed
  EXPECT_TRUE(server_->wait_idle(std::chrono::steady_clock::now() + std::chrono::seconds(30)));
  EXPECT_EQ(big_calls_.load(), 0);
  Client next(port_);
  ASSERT_TRUE(next.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto r = next.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(ServerTest, KeepAliveServes1000SequentialRequestsOnOneConnection) {
  Client client(port_);
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(client.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")) << i;
    auto r = client.read_response();
    ASSERT_TRUE(r) << i;
    ASSERT_EQ(r->status, 200);
    ASSERT_EQ(r->body, "hi");
    ASSERT_EQ(r->header("connection"), "");
  }
  EXPECT_EQ(hello_calls_.load(), 1000);
}

TEST_F(ServerTest, PipelinedRequestsAreAnsweredInOrder) {
  Client client(port_);
  ASSERT_TRUE(
      client.send("GET /hello HTTP/1.1\r\nHost: x\r\nX-Request-Id: one\r\n\r\n"
                  "POST /open HTTP/1.1\r\nHost: x\r\nX-Request-Id: two\r\nContent-Type: "
                  "application/json\r\nContent-Length: 2\r\n\r\n{}"
                  "GET /hello HTTP/1.1\r\nHost: x\r\nX-Request-Id: three\r\nConnection: close\r\n\r\n"));
  for (const char* id : {"one", "two", "three"}) {
    auto r = client.read_response();
    ASSERT_TRUE(r) << id;
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->header("x-request-id"), id);
  }
  EXPECT_TRUE(client.read_until_closed());
}

TEST_F(ServerTest, HeadAnswersWithoutABody) {
  Client client(port_);
  ASSERT_TRUE(client.send("HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  client.expect_head();
  auto r = client.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("content-length"), "2");
  client.expect_body();
  ASSERT_TRUE(client.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  r = client.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "hi");  // no stray body bytes from the HEAD answer
}

TEST_F(ServerTest, Http10ClosesUnlessKeepAlive) {
  Client client(port_);
  ASSERT_TRUE(client.send("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  auto r = client.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("connection"), "keep-alive");
  ASSERT_TRUE(client.send("GET /hello HTTP/1.0\r\n\r\n"));
  r = client.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_TRUE(client.read_until_closed());
}

TEST_F(ServerTest, HeaderOver16KiBIs400) {
  Client client(port_);
  std::string big(17 * 1024, 'a');
  client.send("GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: " + big + "\r\n\r\n");
  auto r = client.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(hello_calls_.load(), 0);
}

// A header longer than one socket read (and than Beast's first put) is read
// whole: Beast consumes complete lines even while it asks for more.
TEST_F(ServerTest, HeadersSpanningSeveralReadsAreParsed) {
  for (std::size_t size : {4000u, 5000u, 9000u, 15000u}) {
    Client client(port_);
    std::string request = "GET /hello HTTP/1.1\r\nHost: x\r\nX-A: 1\r\nX-Big: " + std::string(size, 'a') +
                          "\r\nX-Folded-Lookalike: b\r\n\r\n";
    client.send(request);
    auto r = client.read_response();
    ASSERT_TRUE(r) << size;
    EXPECT_EQ(r->status, 200) << size;
  }
  EXPECT_EQ(hello_calls_.load(), 4);
}

TEST_F(ServerTest, GarbageIs400) {
  Client client(port_);
  client.send("THIS IS NOT HTTP\r\n\r\n");
  auto r = client.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_FALSE(r->header("x-request-id").empty());
}

// With 2 I/O threads and handlers that await a 50 ms timer (again until all
// have arrived), 200 concurrent requests all complete, all suspended at once.
TEST_F(ServerTest, HandlersAwaitingTimersDoNotBlockTheIoThreads) {
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < kConcurrent; ++i) {
    clients.push_back(std::make_unique<Client>(port_));
    ASSERT_TRUE(clients.back()->send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"));
  }
  int answered = 0;
  for (auto& c : clients) {
    auto r = c->read_response();
    if (r && r->status == 200 && r->body == "slow") ++answered;
  }
  EXPECT_EQ(answered, kConcurrent);
  EXPECT_GE(peak_.load(), 100);
  EXPECT_EQ(peak_.load(), kConcurrent);
}

TEST_F(ServerTest, DrainWaitsForTheRequestInFlightAndClosesItsConnection) {
  Client client(port_);
  ASSERT_TRUE(client.send("GET /gate HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_EQ(gate_entered_.get_future().wait_for(std::chrono::seconds(30)), std::future_status::ready);
  server_->stop_accepting();
  // Held in its handler: still in flight.
  EXPECT_FALSE(server_->wait_idle(std::chrono::steady_clock::now() + std::chrono::milliseconds(50)));
  asio::post(gate_executor_, [this] { gate_timer_->cancel(); });
  EXPECT_TRUE(server_->wait_idle(std::chrono::steady_clock::now() + std::chrono::seconds(30)));
  auto r = client.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "released");
  EXPECT_EQ(r->header("connection"), "close");
}

// Out of descriptors, accept(2) fails at once, again and again: the loop
// backs off (10 ms doubling to 1 s) instead of spinning, counts the failures,
// and accepts the waiting connection once a descriptor is free.
// Not built under the sanitizers: at the descriptor limit UBSan's vptr check
// cannot open the pipe it probes memory with and reports a false "invalid
// vptr" inside Asio's scheduler. The sanitized binary meets the same limit in
// tests/e2e/test_http_edge.py (test_accept_backs_off_at_the_descriptor_limit_and_recovers),
// which the sanitize suite runs.
#ifndef __SANITIZE_ADDRESS__
TEST_F(ServerTest, AcceptBacksOffAtTheDescriptorLimitAndRecovers) {
  Client client(port_, /*connect_now=*/false);  // its descriptor exists before the limit drops
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  int lowest_free = ::dup(0);  // new descriptors take the lowest free number
  ASSERT_GE(lowest_free, 0);
  ::close(lowest_free);
  rlimit low = saved;
  low.rlim_cur = static_cast<rlim_t>(lowest_free);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  client.connect();  // waits in the listen backlog: every accept fails with EMFILE
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // a measurement window, not a synchronisation
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);
  ASSERT_TRUE(client.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto r = client.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  std::string text = metrics_.render();
  auto at = text.find("txv_accept_errors_total{reason=\"emfile\"} ");
  ASSERT_NE(at, std::string::npos) << text;
  double failures = std::stod(text.substr(at + std::string("txv_accept_errors_total{reason=\"emfile\"} ").size()));
  EXPECT_GE(failures, 1);
  EXPECT_LT(failures, 50) << "a spinning accept loop fails thousands of times in 500 ms";
}
#endif  // __SANITIZE_ADDRESS__

// A throw-away self-signed certificate (P-256) for the TLS test.
void write_self_signed(const std::string& cert_path, const std::string& key_path) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  ASSERT_NE(key, nullptr);
  X509* cert = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  ASSERT_GT(X509_sign(cert, key, EVP_sha256()), 0);
  FILE* f = std::fopen(key_path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
  f = std::fopen(cert_path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  PEM_write_X509(f, cert);
  std::fclose(f);
  X509_free(cert);
  EVP_PKEY_free(key);
}

// TLS on the same request path: keep-alive, refusal on the headers, close.
TEST_F(ServerTest, ServesTls) {
  auto dir = std::filesystem::temp_directory_path() / ("txv-http-tls-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string cert = (dir / "cert.pem").string(), key = (dir / "key.pem").string();
  write_self_signed(cert, key);
  ServerOptions options;
  options.port = 0;
  options.threads = 2;
  options.tls_cert_file = cert;
  options.tls_key_file = key;
  Server tls_server(options, *dispatcher_);
  ASSERT_TRUE(tls_server.start().ok());

  Client client(tls_server.bound_port());
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, client.fd());
  ASSERT_EQ(SSL_connect(ssl), 1);
  EXPECT_GE(SSL_version(ssl), TLS1_2_VERSION);
  auto read_some = [&](std::string& got) {
    char chunk[4096];
    int n = SSL_read(ssl, chunk, sizeof chunk);
    if (n > 0) got.append(chunk, static_cast<std::size_t>(n));
    return n > 0;
  };
  // One request, then its whole response (every answer here has a Content-Length).
  auto exchange = [&](const std::string& request) {
    EXPECT_EQ(SSL_write(ssl, request.data(), static_cast<int>(request.size())), static_cast<int>(request.size()));
    std::string got;
    while (got.find("\r\n\r\n") == std::string::npos && read_some(got)) {
    }
    auto head_end = got.find("\r\n\r\n");
    auto at = got.find("Content-Length: ");
    if (head_end == std::string::npos || at == std::string::npos) return got;
    std::size_t length = std::stoul(got.substr(at + 16));
    while (got.size() < head_end + 4 + length && read_some(got)) {
    }
    return got;
  };
  std::string a = exchange("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(a.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << a;
  EXPECT_EQ(a.substr(a.size() - 2), "hi");
  std::string b = exchange(
      "POST /admitted HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n");
  EXPECT_EQ(b.rfind("HTTP/1.1 401 Unauthorized\r\n", 0), 0u) << b;
  EXPECT_NE(b.find("Connection: close\r\n"), std::string::npos);
  char byte;
  EXPECT_LE(SSL_read(ssl, &byte, 1), 0);  // closed (close_notify)
  SSL_free(ssl);

  // A client that writes its whole (refused) body before reading still gets the answer.
  Client second(tls_server.bound_port());
  ssl = SSL_new(ctx);
  SSL_set_fd(ssl, second.fd());
  ASSERT_EQ(SSL_connect(ssl), 1);
  std::string body(4 * 1024 * 1024, 'x');
  std::string c = exchange("POST /admitted HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
                           std::to_string(body.size()) + "\r\n\r\n" + body);
  EXPECT_EQ(c.rfind("HTTP/1.1 401 Unauthorized\r\n", 0), 0u) << c.substr(0, 200);
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  EXPECT_EQ(admitted_calls_.load(), 0);
  EXPECT_EQ(hello_calls_.load(), 1);
  tls_server.stop();
  std::filesystem::remove_all(dir);
}

TEST(ServerLimits, SoftFileLimitIsRaisedToTheHardLimit) {
  std::uint64_t reached = raise_open_file_limit();
  rlimit limit{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &limit), 0);
  EXPECT_EQ(reached, static_cast<std::uint64_t>(limit.rlim_cur));
  if (limit.rlim_max != RLIM_INFINITY) {
    EXPECT_EQ(limit.rlim_cur, limit.rlim_max);
  }
}

}  // namespace
}  // namespace txv::http
