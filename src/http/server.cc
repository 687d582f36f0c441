#include "http/server.h"

#include <openssl/ssl.h>
#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <fstream>
#include <limits>
#include <memory_resource>
#include <mutex>
#include <string_view>
#include <thread>
#include <tuple>
#include <type_traits>
#include <vector>

#include "logging/log.h"

namespace txv::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;

namespace {

constexpr std::uint32_t kHeaderLimit = 16 * 1024;
constexpr std::size_t kHeaderReadChunk = 4096;
constexpr auto kHandshakeTimeout = std::chrono::seconds(10);
constexpr auto kLingerTimeout = std::chrono::seconds(2);
constexpr std::size_t kLingerChunk = 16 * 1024;
constexpr std::size_t kLingerMaxBytes = 8 * 1024 * 1024;
// What a body buffer reserves at most before any byte arrived, whatever the
// client declared; it then grows geometrically with the bytes received.
constexpr std::size_t kBodyInitialReserve = 64 * 1024;
// A connection's read buffer is shrunk back between requests above this.
constexpr std::size_t kKeepReadBuffer = 32 * 1024;
constexpr auto kAcceptBackoffMin = std::chrono::milliseconds(10);
constexpr auto kAcceptBackoffMax = std::chrono::milliseconds(1000);
constexpr auto kAcceptLogInterval = std::chrono::seconds(10);

constexpr auto use_nothrow = net::as_tuple(net::use_awaitable);

// A request body in a std::string that grows with the bytes actually
// received, never with the Content-Length a client declares (Beast's
// string_body reserves the declared length up front).
struct RequestBody {
  using value_type = std::string;
  static std::uint64_t size(const value_type& body) { return body.size(); }

  class reader {
   public:
    template <bool isRequest, class Fields>
    reader(bhttp::header<isRequest, Fields>&, value_type& body) : body_(body) {}

    void init(const boost::optional<std::uint64_t>& length, beast::error_code& ec) {
      ec = {};
      body_.clear();
      if (length) body_.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(*length, kBodyInitialReserve)));
    }

    template <class ConstBufferSequence>
    std::size_t put(const ConstBufferSequence& buffers, beast::error_code& ec) {
      ec = {};
      std::size_t n = 0;
      for (auto b : beast::buffers_range_ref(buffers)) {
        body_.append(static_cast<const char*>(b.data()), b.size());  // grows geometrically
        n += b.size();
      }
      return n;
    }

    void finish(beast::error_code& ec) { ec = {}; }

   private:
    value_type& body_;
  };
};

// The header fields of a request live in a per-connection arena that is
// reset between requests (no allocation per field once it is warm).
using FieldAllocator = std::pmr::polymorphic_allocator<char>;
using Parser = bhttp::request_parser<RequestBody, FieldAllocator>;
using Message = Parser::value_type;

template <class Stream>
constexpr bool kIsTls = std::is_same_v<Stream, ssl::stream<beast::tcp_stream>>;

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// A header line that begins with a space or a tab (obs-fold, RFC 9112 §5.2,
// or whitespace before the first field), in the raw header bytes: Beast
// unfolds such lines silently.
bool has_folded_line(const beast::flat_buffer& buffer, std::size_t header_bytes) {
  auto data = static_cast<const char*>(buffer.data().data());
  for (std::size_t i = 0; i + 1 < header_bytes; ++i) {
    if (data[i] == '\n' && (data[i + 1] == ' ' || data[i + 1] == '\t')) return true;
  }
  return false;
}

// Why a parsed header's message framing is refused (RFC 9112 §6.3, contract
// section 2), or empty. Beast itself refuses conflicting Content-Lengths and a
// chunked Transfer-Encoding next to a Content-Length, but reads any other
// Transfer-Encoding as "no body" and runs the body bytes as the next request.
std::string_view framing_problem(const Message& m) {
  if (m.count(bhttp::field::authorization) > 1) return "two Authorization headers";
  if (m.count(bhttp::field::host) > 1) return "two Host headers";
  auto te = m.equal_range(bhttp::field::transfer_encoding);
  if (te.first == te.second) return {};
  if (m.version() < 11) return "Transfer-Encoding on HTTP/1.0";
  if (m.count(bhttp::field::content_length) > 0) return "both Content-Length and Transfer-Encoding";
  int codings = 0;
  bool chunked = false;
  for (auto it = te.first; it != te.second; ++it) {
    std::string_view value(it->value().data(), it->value().size());
    while (true) {
      auto comma = value.find(',');
      std::string_view coding = trim(value.substr(0, comma));
      if (coding.empty()) return "an empty Transfer-Encoding element";
      ++codings;
      chunked = iequals(coding, "chunked");
      if (comma == std::string_view::npos) break;
      value.remove_prefix(comma + 1);
    }
  }
  if (codings != 1 || !chunked) return "a Transfer-Encoding other than chunked";
  return {};
}

bool expects_continue(const Message& m) {
  auto it = m.find(bhttp::field::expect);
  return it != m.end() && iequals(trim(std::string_view(it->value().data(), it->value().size())), "100-continue");
}

void append_number(std::string& out, std::uint64_t n) {
  char digits[24];
  auto end = std::to_chars(digits, digits + sizeof digits, n).ptr;
  out.append(digits, end);
}

bool header_is_safe(const std::string& name, const std::string& value) {
  if (name.empty()) return false;
  for (char c : name) {
    if (c == '\r' || c == '\n' || c == ':' || c == ' ' || c == '\0') return false;
  }
  for (char c : value) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
  }
  // The framing is the transport's own.
  return !iequals(name, "content-length") && !iequals(name, "transfer-encoding") && !iequals(name, "connection") &&
         !iequals(name, "server");
}

bool bodyless_status(int status) { return status < 200 || status == 204 || status == 304; }

// The status line and headers of `r` into `out` (reused across a connection's responses).
void render_head(std::string& out, const Response& r, unsigned version, bool keep_alive) {
  out.clear();
  out.append(version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
  append_number(out, static_cast<std::uint64_t>(std::clamp(r.status, 100, 999)));
  out.push_back(' ');
  auto reason = bhttp::obsolete_reason(bhttp::int_to_status(static_cast<unsigned>(r.status)));
  out.append(reason.data(), reason.size());
  out.append("\r\nServer: txv\r\n");
  if (!bodyless_status(r.status)) {
    if (!r.content_type.empty() && header_is_safe("Content-Type", r.content_type)) {
      out.append("Content-Type: ").append(r.content_type).append("\r\n");
    }
    out.append("Content-Length: ");
    append_number(out, r.body.size());
    out.append("\r\n");
  }
  for (const auto& [name, value] : r.headers) {
    if (!header_is_safe(name, value)) continue;
    out.append(name).append(": ").append(value).append("\r\n");
  }
  if (!keep_alive) {
    out.append("Connection: close\r\n");
  } else if (version == 10) {
    out.append("Connection: keep-alive\r\n");
  }
  out.append("\r\n");
}

void fill_request(Request& request, const Message& m) {
  request.method.assign(m.method_string().data(), m.method_string().size());
  std::string_view target(m.target().data(), m.target().size());
  auto q = target.find('?');
  request.path.assign(target.substr(0, q));
  if (q != std::string_view::npos) request.query.assign(target.substr(q + 1));
  for (const auto& field : m) {
    std::string name(field.name_string().data(), field.name_string().size());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    request.headers[std::move(name)].assign(field.value().data(), field.value().size());
  }
}

const boost::system::error_category& http_error_category() {
  return bhttp::make_error_code(bhttp::error::bad_method).category();
}

std::string_view accept_error_reason(const boost::system::error_code& ec) {
  if (ec.category() == boost::system::system_category()) {
    switch (ec.value()) {
      case EMFILE:
        return "emfile";
      case ENFILE:
        return "enfile";
      case ENOBUFS:
        return "enobufs";
      case ENOMEM:
        return "enomem";
      default:
        break;
    }
  }
  return "other";
}

// Accept errors that concern one connection only (the peer gave up, a
// firewall refused it): go on at once. Anything else backs off.
bool transient_accept_error(const boost::system::error_code& ec) {
  return ec == net::error::connection_aborted || ec == net::error::connection_reset ||
         (ec.category() == boost::system::system_category() && (ec.value() == EPROTO || ec.value() == EPERM));
}

}  // namespace

std::uint64_t raise_open_file_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  if (limit.rlim_cur != limit.rlim_max) {
    rlimit wanted = limit;
    wanted.rlim_cur = limit.rlim_max;
    if (wanted.rlim_cur == RLIM_INFINITY) {
      // Linux refuses a soft limit above fs.nr_open.
      rlim_t nr_open = 1 << 20;
      std::ifstream in("/proc/sys/fs/nr_open");
      unsigned long long v = 0;
      if (in >> v && v > 0) nr_open = static_cast<rlim_t>(v);
      wanted.rlim_cur = nr_open;
    }
    if (wanted.rlim_cur > limit.rlim_cur && setrlimit(RLIMIT_NOFILE, &wanted) == 0) limit = wanted;
  }
  return limit.rlim_cur == RLIM_INFINITY ? std::numeric_limits<std::uint64_t>::max()
                                         : static_cast<std::uint64_t>(limit.rlim_cur);
}

class Server::Impl {
 public:
  Impl(ServerOptions options, const Dispatcher& dispatcher)
      : options_(std::move(options)), dispatcher_(dispatcher), metrics_(dispatcher.metrics()) {
    int n = std::max(1, options_.threads);
    for (int i = 0; i < n; ++i) {
      contexts_.push_back(std::make_unique<net::io_context>(1));
      work_.push_back(net::make_work_guard(*contexts_.back()));
      // Create each context's reactor (epoll, eventfd, timerfd) and socket and
      // timer services now: created lazily by the first connection, they would
      // need descriptors exactly when the process may have none left.
      tcp::socket socket_service(*contexts_.back());
      net::steady_timer timer_service(*contexts_.back());
    }
    acceptor_ = std::make_unique<tcp::acceptor>(*contexts_[0]);
    backoff_timer_ = std::make_unique<net::steady_timer>(*contexts_[0]);
  }

  ~Impl() {
    stop();
    // Destroying the contexts destroys the suspended connection coroutines;
    // their in-flight guards still reach the members below.
    backoff_timer_.reset();
    acceptor_.reset();
    contexts_.clear();
  }

  Status start();

  void stop_accepting() {
    draining_ = true;
    net::post(*contexts_[0], [this] {
      beast::error_code ec;
      acceptor_->close(ec);
      backoff_timer_->cancel();
    });
  }

  bool wait_idle(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock lock(idle_mu_);
    return idle_cv_.wait_until(lock, deadline, [this] { return in_flight_.load() == 0; });
  }

  void stop() {
    if (stopped_.exchange(true)) return;
    work_.clear();
    for (auto& c : contexts_) c->stop();
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

  void request_started() { in_flight_.fetch_add(1); }
  void request_finished() {
    if (in_flight_.fetch_sub(1) == 1) {
      std::lock_guard lock(idle_mu_);
      idle_cv_.notify_all();
    }
  }

  bool draining() const { return draining_.load(std::memory_order_relaxed); }
  const Dispatcher& dispatcher() const { return dispatcher_; }
  std::chrono::milliseconds idle_timeout() const { return options_.idle_timeout; }

  unsigned short port_ = 0;

 private:
  Task<void> accept_loop();
  template <class Stream>
  Task<void> serve(Stream stream, std::string remote);

  ServerOptions options_;
  const Dispatcher& dispatcher_;
  metrics::Metrics& metrics_;
  std::atomic<bool> draining_{false};
  std::atomic<bool> stopped_{false};
  std::atomic<int> in_flight_{0};
  std::mutex idle_mu_;
  std::condition_variable idle_cv_;
  std::uint64_t fd_limit_ = 0;
  std::unique_ptr<ssl::context> tls_;
  std::vector<std::unique_ptr<net::io_context>> contexts_;
  std::vector<net::executor_work_guard<net::io_context::executor_type>> work_;
  std::unique_ptr<tcp::acceptor> acceptor_;
  std::unique_ptr<net::steady_timer> backoff_timer_;
  std::size_t next_context_ = 0;  // the accept loop's round robin
  std::vector<std::thread> threads_;
};

namespace {

// Holds one in-flight count from a request's complete header until its answer was written.
class InFlight {
 public:
  explicit InFlight(Server::Impl& server) : server_(&server) { server_->request_started(); }
  ~InFlight() { end(); }
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;
  void end() {
    if (server_) server_->request_finished();
    server_ = nullptr;
  }

 private:
  Server::Impl* server_;
};

// One connection: a loop of requests on one coroutine, on one I/O thread.
template <class Stream>
class Connection {
 public:
  Connection(Server::Impl& server, Stream& stream, std::string remote)
      : server_(server), dispatcher_(server.dispatcher()), stream_(stream), remote_(std::move(remote)) {}

  Task<void> run() {
    for (;;) {
      fields_arena_.release();
      Parser parser(std::piecewise_construct, std::make_tuple(), std::make_tuple(FieldAllocator(&fields_arena_)));
      parser.header_limit(kHeaderLimit);
      parser.body_limit(boost::none);  // the route's limit is applied once the header was read
      parser.eager(false);             // stop after the header
      std::string_view problem;
      beast::get_lowest_layer(stream_).expires_after(server_.idle_timeout());
      HeaderRead got = co_await read_header(parser, problem);
      if (got == HeaderRead::kGone) co_return close_now();

      InFlight in_flight(server_);
      Request request;
      request.remote_address = remote_;
      request.received_at = std::chrono::steady_clock::now();
      if (got == HeaderRead::kMalformed) {
        co_return co_await refuse(dispatcher_.transport_error(400, request, 0, problem), 11, in_flight);
      }
      const Message& message = parser.get();
      fill_request(request, message);
      unsigned version = message.version();
      if (got == HeaderRead::kFolded) {
        problem = "a folded (obs-fold) header line";
      } else {
        problem = framing_problem(message);
      }
      if (!problem.empty()) {
        co_return co_await refuse(dispatcher_.transport_error(400, request, 0, problem), version, in_flight);
      }
      const bool head = message.method() == bhttp::verb::head;
      const bool keep_alive = message.keep_alive();
      const auto declared = parser.content_length();
      const bool has_body = parser.chunked() || (declared && *declared > 0);

      HeaderVerdict verdict = co_await dispatcher_.on_headers(request);
      if (verdict.answer) {
        // The body is never read: unless there is none, the connection cannot go on.
        bool keep = keep_alive && !has_body && !server_.draining();
        bool written = co_await write(*verdict.answer, version, head, keep);
        in_flight.end();
        if (!written) co_return close_now();
        if (!keep) co_return co_await close_lingering();
        continue;
      }
      const std::size_t limit = verdict.max_body_bytes;
      if (declared && *declared > limit) {
        co_return co_await refuse(dispatcher_.transport_error(413, request, limit), version, in_flight);
      }
      if (has_body) {
        parser.body_limit(static_cast<std::uint64_t>(limit));
        parser.eager(true);
        if (version >= 11 && expects_continue(message) && buffer_.size() == 0) {
          static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
          beast::get_lowest_layer(stream_).expires_after(server_.idle_timeout());
          auto [ec, n] =
              co_await net::async_write(stream_, net::buffer(kContinue.data(), kContinue.size()), use_nothrow);
          (void)n;
          if (ec) co_return close_now();
        }
        BodyRead body = co_await read_body(parser);
        if (body == BodyRead::kTooLarge) {
          co_return co_await refuse(dispatcher_.transport_error(413, request, limit), version, in_flight);
        }
        if (body == BodyRead::kMalformed) {
          co_return co_await refuse(dispatcher_.transport_error(400, request, 0, "a malformed chunked body"), version,
                                    in_flight);
        }
        if (body == BodyRead::kGone) co_return close_now();
        request.body = std::move(parser.get().body());
      }

      Response response = co_await dispatcher_.on_body(request);
      bool keep = keep_alive && !server_.draining();
      bool written = co_await write(response, version, head, keep);
      in_flight.end();
      if (!written) co_return close_now();
      if (!keep) co_return co_await close_lingering();
      if (buffer_.size() == 0 && buffer_.capacity() > kKeepReadBuffer) buffer_.shrink_to_fit();
    }
  }

 private:
  enum class HeaderRead { kOk, kFolded, kMalformed, kGone };
  enum class BodyRead { kOk, kTooLarge, kMalformed, kGone };

  // Reads until the header is complete and parses it; the bytes after it stay
  // in buffer_ (the body, or the next pipelined request).
  Task<HeaderRead> read_header(Parser& parser, std::string_view& problem) {
    bool folded = false;
    for (;;) {
      if (buffer_.size() > 0) {
        beast::error_code ec;
        // Beast consumes whole header lines even when it answers need_more:
        // those bytes must leave the buffer, or the next put() misparses them.
        std::size_t used = parser.put(buffer_.data(), ec);
        // Within the header only: on success the byte after `used` is the body's.
        const bool more = ec == bhttp::error::need_more;
        folded = folded || has_folded_line(buffer_, more ? std::min(used + 1, buffer_.size()) : used);
        buffer_.consume(used);
        if (!ec) co_return folded ? HeaderRead::kFolded : HeaderRead::kOk;
        if (ec != bhttp::error::need_more) {
          problem =
              ec == bhttp::error::header_limit ? std::string_view("the header exceeds 16 KiB") : std::string_view();
          co_return HeaderRead::kMalformed;
        }
      }
      auto [ec, n] = co_await stream_.async_read_some(buffer_.prepare(kHeaderReadChunk), use_nothrow);
      if (ec) {
        // A client that closes between requests, or that half-closes after a
        // partial header (answered 400); timeouts and resets end quietly.
        bool eof = ec == net::error::eof || ec == ssl::error::stream_truncated;
        co_return eof&& buffer_.size() > 0 ? HeaderRead::kMalformed : HeaderRead::kGone;
      }
      buffer_.commit(n);
    }
  }

  Task<BodyRead> read_body(Parser& parser) {
    while (!parser.is_done()) {
      beast::get_lowest_layer(stream_).expires_after(server_.idle_timeout());
      auto [ec, n] = co_await bhttp::async_read_some(stream_, buffer_, parser, use_nothrow);
      (void)n;
      if (!ec) continue;
      if (ec == bhttp::error::body_limit) co_return BodyRead::kTooLarge;
      if (ec.category() == http_error_category() && ec != bhttp::error::partial_message &&
          ec != bhttp::error::end_of_stream) {
        co_return BodyRead::kMalformed;
      }
      co_return BodyRead::kGone;  // the client went away or stalled part-way
    }
    co_return BodyRead::kOk;
  }

  Task<bool> write(const Response& response, unsigned version, bool head, bool keep_alive) {
    render_head(head_, response, version, keep_alive);
    bool with_body = !head && !bodyless_status(response.status) && !response.body.empty();
    std::array<net::const_buffer, 2> buffers{net::buffer(head_),
                                             with_body ? net::buffer(response.body) : net::const_buffer()};
    beast::get_lowest_layer(stream_).expires_after(server_.idle_timeout());
    auto [ec, n] = co_await net::async_write(stream_, buffers, use_nothrow);
    (void)n;
    co_return !ec;
  }

  // Answers with "Connection: close" and closes, discarding the unread input.
  Task<void> refuse(Response response, unsigned version, InFlight& in_flight) {
    bool written = co_await write(response, version, false, false);
    in_flight.end();
    if (!written) co_return close_now();
    co_await close_lingering();
  }

  // Stops sending, then reads and discards what the client still sends (the
  // rest of a refused body), bounded in bytes and time, before closing: a
  // close with unread input would reset the connection before the client
  // read our answer.
  Task<void> close_lingering() {
    auto& lowest = beast::get_lowest_layer(stream_);
    lowest.expires_after(kLingerTimeout);  // one deadline for all of it (on expiry the stream closes the socket)
    if constexpr (kIsTls<Stream>) {
      // close_notify, and the peer's when it answers at once; a peer still
      // sending (the rest of a body) fails it: then discard below the TLS layer.
      auto [ec] = co_await stream_.async_shutdown(use_nothrow);
      if (!ec) co_return close_now();
    }
    beast::error_code ignored;
    lowest.socket().shutdown(tcp::socket::shutdown_send, ignored);
    buffer_.clear();
    std::size_t discarded = 0;
    while (discarded < kLingerMaxBytes && lowest.socket().is_open()) {
      auto [ec, n] = co_await lowest.async_read_some(buffer_.prepare(kLingerChunk), use_nothrow);
      if (ec) break;
      discarded += n;
    }
    close_now();
  }

  void close_now() {
    beast::error_code ignored;
    beast::get_lowest_layer(stream_).socket().close(ignored);
  }

  Server::Impl& server_;
  const Dispatcher& dispatcher_;
  Stream& stream_;
  std::string remote_;
  beast::flat_buffer buffer_;
  std::string head_;  // the response header, reused
  std::array<std::byte, 2048> fields_initial_;
  std::pmr::monotonic_buffer_resource fields_arena_{fields_initial_.data(), fields_initial_.size()};
};

}  // namespace

template <class Stream>
Task<void> Server::Impl::serve(Stream stream, std::string remote) {
  if constexpr (kIsTls<Stream>) {
    beast::get_lowest_layer(stream).expires_after(kHandshakeTimeout);
    auto [ec] = co_await stream.async_handshake(ssl::stream_base::server, use_nothrow);
    if (ec) co_return;
  }
  Connection<Stream> connection(*this, stream, std::move(remote));
  co_await connection.run();
}

Task<void> Server::Impl::accept_loop() {
  auto backoff = std::chrono::milliseconds(0);
  std::uint64_t failures = 0;  // since the last log line
  auto last_log = std::chrono::steady_clock::time_point{};
  auto on_exit = [](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      logging::error("connection ended by an exception", {{"what", ex.what()}});
    } catch (...) {
      logging::error("connection ended by an exception");
    }
  };
  for (;;) {
    net::io_context& home = *contexts_[next_context_++ % contexts_.size()];
    beast::error_code ec;
    tcp::socket socket(home);
    try {
      std::tie(ec, socket) = co_await acceptor_->async_accept(net::any_io_executor(home.get_executor()), use_nothrow);
    } catch (const boost::system::system_error& e) {
      ec = e.code();  // e.g. a descriptor the reactor needed, at the limit
    }
    if (ec == net::error::operation_aborted || !acceptor_->is_open()) co_return;
    if (ec) {
      std::string_view reason = accept_error_reason(ec);
      metrics_.count_accept_error(reason);
      if (transient_accept_error(ec)) continue;
      // Out of descriptors (or memory): accepting again at once fails again
      // and spins. Wait, longer each time, until a connection closes.
      backoff = backoff.count() == 0 ? kAcceptBackoffMin : std::min(backoff * 2, kAcceptBackoffMax);
      ++failures;
      auto now = std::chrono::steady_clock::now();
      if (last_log == std::chrono::steady_clock::time_point{} || now - last_log >= kAcceptLogInterval) {
        logging::warn("accept failing; backing off",
                      {{"reason", reason},
                       {"error", ec.message()},
                       {"failures", static_cast<long long>(failures)},
                       {"backoff_ms", static_cast<long long>(backoff.count())},
                       {"fd_limit", static_cast<long long>(std::min<std::uint64_t>(fd_limit_, 1ull << 62))}});
        last_log = now;
        failures = 0;
      }
      backoff_timer_->expires_after(backoff);
      auto [waited] = co_await backoff_timer_->async_wait(use_nothrow);
      (void)waited;
      continue;
    }
    backoff = std::chrono::milliseconds(0);
    beast::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    auto peer = socket.remote_endpoint(ignored);
    std::string remote = ignored ? std::string() : peer.address().to_string();
    if (tls_) {
      net::co_spawn(
          home, serve(ssl::stream<beast::tcp_stream>(beast::tcp_stream(std::move(socket)), *tls_), std::move(remote)),
          on_exit);
    } else {
      net::co_spawn(home, serve(beast::tcp_stream(std::move(socket)), std::move(remote)), on_exit);
    }
  }
}

Status Server::Impl::start() {
  fd_limit_ = raise_open_file_limit();
  if (options_.tls_cert_file && options_.tls_key_file) {
    try {
      tls_ = std::make_unique<ssl::context>(ssl::context::tls_server);
      tls_->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                        ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
      SSL_CTX_set_min_proto_version(tls_->native_handle(), TLS1_2_VERSION);
      tls_->use_certificate_chain_file(*options_.tls_cert_file);
      tls_->use_private_key_file(*options_.tls_key_file, ssl::context::pem);
    } catch (const std::exception& e) {
      return make_error("invalid_configuration",
                        std::string("TXV_TLS_CERT_FILE: cannot load certificate or key: ") + e.what());
    }
  }
  beast::error_code ec;
  auto address = net::ip::make_address(options_.host, ec);
  if (ec) return make_error("invalid_configuration", "TXV_LISTEN: not an IP address: " + options_.host);
  tcp::endpoint endpoint(address, options_.port);
  acceptor_->open(endpoint.protocol(), ec);
  if (!ec) acceptor_->set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_->bind(endpoint, ec);
  if (!ec) acceptor_->listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return make_error("invalid_configuration", "TXV_LISTEN: cannot listen on " + options_.host + ":" +
                                                   std::to_string(options_.port) + ": " + ec.message());
  }
  // Logged once the listener is up: a start-up that fails says one line only.
  {
    rlimit limit{};
    getrlimit(RLIMIT_NOFILE, &limit);
    auto shown = [](rlim_t v) {
      return v == RLIM_INFINITY ? -1LL : static_cast<long long>(std::min<rlim_t>(v, 1ull << 62));
    };
    logging::info("file descriptor limit", {{"soft", shown(limit.rlim_cur)}, {"hard", shown(limit.rlim_max)}});
  }
  port_ = acceptor_->local_endpoint().port();
  net::co_spawn(*contexts_[0], accept_loop(), [](std::exception_ptr e) {
    if (e) logging::error("the accept loop ended by an exception");
  });
  for (auto& context : contexts_) {
    threads_.emplace_back([c = context.get()] {
      // A handler that throws (none should) ends its own work, not the thread.
      for (;;) {
        try {
          c->run();
          return;
        } catch (const std::exception& e) {
          logging::error("exception on an I/O thread", {{"what", e.what()}});
        } catch (...) {
          logging::error("exception on an I/O thread");
        }
      }
    });
  }
  return Ok{};
}

Server::Server(ServerOptions options, const Dispatcher& dispatcher)
    : impl_(std::make_unique<Impl>(std::move(options), dispatcher)) {}
Server::~Server() = default;
Status Server::start() { return impl_->start(); }
unsigned short Server::bound_port() const { return impl_->port_; }
void Server::stop_accepting() { impl_->stop_accepting(); }
bool Server::wait_idle(std::chrono::steady_clock::time_point deadline) { return impl_->wait_idle(deadline); }
void Server::stop() { impl_->stop(); }

}  // namespace txv::http
