#include "cache/redis/redis_client.h"

#include <hiredis/hiredis.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <charconv>
#include <cstdio>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <utility>

namespace txv::cache {

namespace {

using Clock = std::chrono::steady_clock;
using tcp = asio::ip::tcp;
using Stream = asio::ssl::stream<tcp::socket>;
using boost::system::error_code;

Error unavailable(std::string message) { return make_error("unavailable", "redis: " + std::move(message)); }
Error internal(std::string message) { return make_error("internal", "redis: " + std::move(message)); }

std::string millis(std::chrono::milliseconds d) { return std::to_string(d.count()) + " ms"; }

// The server's transient refusals: the command was not run, and a later attempt (or another node) may succeed.
bool transient_error_reply(std::string_view text) {
  const std::string_view word = text.substr(0, text.find(' '));
  for (std::string_view w :
       {"LOADING", "BUSY", "OOM", "READONLY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN", "NOREPLICAS", "MISCONF"}) {
    if (word == w) return true;
  }
  return false;
}

// ---- RESP parsing: hiredis's reply reader only.
class RespReader {
 public:
  RespReader() : r_(redisReaderCreate()) {}
  ~RespReader() {
    if (r_ != nullptr) redisReaderFree(r_);
  }
  RespReader(const RespReader&) = delete;
  RespReader& operator=(const RespReader&) = delete;

  bool feed(const char* data, std::size_t n) { return r_ != nullptr && redisReaderFeed(r_, data, n) == REDIS_OK; }
  // 1: a reply in `out`; 0: more input needed; -1: protocol error (in `error`).
  int next(RedisValue& out, std::string& error) {
    if (r_ == nullptr) {
      error = "out of memory";
      return -1;
    }
    void* reply = nullptr;
    if (redisReaderGetReply(r_, &reply) != REDIS_OK) {
      error = r_->errstr[0] != '\0' ? r_->errstr : "unparseable reply";
      return -1;
    }
    if (reply == nullptr) return 0;
    out = convert(static_cast<const redisReply*>(reply));
    freeReplyObject(reply);
    return 1;
  }

 private:
  static RedisValue convert(const redisReply* r) {
    RedisValue v;
    switch (r->type) {
      case REDIS_REPLY_STRING:
        v.type = RedisValue::Type::kString;
        v.str.assign(r->str, r->len);
        break;
      case REDIS_REPLY_STATUS:
        v.type = RedisValue::Type::kStatus;
        v.str.assign(r->str, r->len);
        break;
      case REDIS_REPLY_ERROR:
        v.type = RedisValue::Type::kError;
        v.str.assign(r->str, r->len);
        break;
      case REDIS_REPLY_INTEGER:
        v.type = RedisValue::Type::kInteger;
        v.integer = r->integer;
        break;
      case REDIS_REPLY_ARRAY:
        v.type = RedisValue::Type::kArray;
        v.elements.reserve(r->elements);
        for (std::size_t i = 0; i < r->elements; ++i) v.elements.push_back(convert(r->element[i]));
        break;
      default:
        v.type = RedisValue::Type::kNil;
    }
    return v;
  }
  redisReader* r_;
};

// ---- Completing a call on the caller's executor.
struct Completion {
  virtual ~Completion() = default;
  virtual void complete(Result<RedisValue> result) = 0;
};

template <class Handler>
class HandlerCompletion final : public Completion {
 public:
  explicit HandlerCompletion(Handler handler)
      : handler_(std::move(handler)),
        work_(asio::prefer(asio::get_associated_executor(handler_), asio::execution::outstanding_work.tracked)) {}
  void complete(Result<RedisValue> result) override {
    auto work = work_;
    asio::post(work, [h = std::move(handler_), r = std::move(result)]() mutable { std::move(h)(std::move(r)); });
  }

 private:
  Handler handler_;
  std::decay_t<decltype(asio::prefer(std::declval<asio::associated_executor_t<Handler>>(),
                                     asio::execution::outstanding_work.tracked))>
      work_;
};

// One call, owned by the client's thread once submitted.
struct Request {
  explicit Request(asio::io_context& io) : timer(io) {}
  std::string payload;
  std::unique_ptr<Completion> done;  // null once answered (a late reply is then dropped)
  Clock::time_point deadline{};
  Clock::time_point sent_at{};
  bool sent = false;  // written to a connection (set on the client's thread before the completion is posted)
  asio::steady_timer timer;
};

void finish_request(Request& req, Result<RedisValue> result) {
  req.timer.cancel();
  if (auto done = std::move(req.done)) done->complete(std::move(result));
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// URL and helpers.

std::string RedisEndpoint::redacted() const {
  std::string out = tls ? "rediss://" : "redis://";
  if (!user.empty() || !password.empty()) out += user + (password.empty() ? "" : ":***") + "@";
  const bool v6 = host.find(':') != std::string::npos;
  out += (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port) + "/" + std::to_string(db);
  return out;
}

Result<RedisEndpoint> parse_redis_url(std::string_view text) {
  auto bad = [](std::string why) { return make_error("invalid_configuration", "redis URL: " + std::move(why)); };
  auto parsed = boost::urls::parse_uri(text);
  if (!parsed) return bad("not a valid URL (expected redis://[user:password@]host:port/db or rediss://...)");
  const boost::urls::url_view u = *parsed;
  RedisEndpoint ep;
  if (u.scheme() == "redis") {
    ep.tls = false;
  } else if (u.scheme() == "rediss") {
    ep.tls = true;
  } else {
    return bad("the scheme must be redis:// or rediss://");
  }
  if (!u.has_authority()) return bad("no host");
  switch (u.host_type()) {
    case boost::urls::host_type::ipv4:
      ep.host = u.host_ipv4_address().to_string();
      break;
    case boost::urls::host_type::ipv6:
      ep.host = u.host_ipv6_address().to_string();
      break;
    case boost::urls::host_type::name:
      ep.host = u.host_name();
      break;
    default:
      return bad("unsupported host");
  }
  if (ep.host.empty()) return bad("no host");
  if (u.has_port()) {
    const std::string_view p = u.port();
    int port = 0;
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), port);
    if (p.empty() || ec != std::errc() || end != p.data() + p.size() || port < 1 || port > 65535) {
      return bad("invalid port");
    }
    ep.port = static_cast<std::uint16_t>(port);
  }
  if (u.has_userinfo()) {
    ep.user = u.user();
    if (u.has_password()) ep.password = u.password();
  }
  const std::string path = u.path();
  if (!path.empty() && path != "/") {
    const std::string_view digits = std::string_view(path).substr(1);
    int db = -1;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), db);
    if (ec != std::errc() || end != digits.data() + digits.size() || db < 0) {
      return bad("the path must be a database number (/0, /1, ...)");
    }
    ep.db = db;
  }
  if (u.has_fragment()) return bad("unexpected fragment");
  return ep;
}

std::string encode_redis_command(const std::vector<std::string>& args) {
  std::size_t size = 16;
  for (const auto& a : args) size += a.size() + 16;
  std::string out;
  out.reserve(size);
  out += '*';
  out += std::to_string(args.size());
  out += "\r\n";
  for (const auto& a : args) {
    out += '$';
    out += std::to_string(a.size());
    out += "\r\n";
    out += a;
    out += "\r\n";
  }
  return out;
}

RedisScript::RedisScript(std::string source) : source_(std::move(source)) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(source_.data(), source_.size(), md, &len, EVP_sha1(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned int i = 0; i < len; ++i) {
    sha1_ += kHex[md[i] >> 4];
    sha1_ += kHex[md[i] & 15];
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The client.

class RedisClient::Impl {
 public:
  class Connection;

  Impl(RedisClientOptions options, RedisEndpoint endpoint, std::unique_ptr<asio::ssl::context> ssl);
  ~Impl();

  void start();
  void shutdown();

  // Any thread: one command (already encoded), answered with the raw reply (an error reply is a value).
  // `sent`, if given, tells whether the command was written (valid once the call completed).
  Task<Result<RedisValue>> call(std::string payload, Clock::time_point deadline, bool* sent = nullptr);
  // The public answer: error replies become Errors; on_error is told about every Error.
  Result<RedisValue> finish(Result<RedisValue> r) const;
  Clock::time_point deadline() const { return Clock::now() + options_.command_timeout; }

  Task<Result<RedisValue>> subscribe(std::string channel, MessageHandler on_message,
                                     std::function<void()> on_resubscribed);
  void unsubscribe(std::string channel);

  void log(std::string_view message) const {
    if (options_.on_log) options_.on_log(message);
  }

  // I/O thread only, from here on.
  void arm_deadline(const std::shared_ptr<Request>& req);
  void on_pubsub_up(std::uint64_t gen);
  void on_push(RedisValue v, std::uint64_t gen);
  void fail_subscribe_waiters(const Error& why);

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  std::thread thread_;
  const RedisClientOptions options_;
  const RedisEndpoint endpoint_;
  const std::unique_ptr<asio::ssl::context> ssl_;
  std::unique_ptr<Connection> commands_;
  std::unique_ptr<Connection> pubsub_;  // opened on the first subscribe
  bool stopping_ = false;

  struct Channel {
    std::vector<MessageHandler> handlers;
    std::vector<std::function<void()>> on_resubscribed;
    std::vector<std::shared_ptr<Request>> waiters;  // subscribe() calls awaiting the confirmation
    std::uint64_t confirmed_gen = 0;                // pub/sub connection generation that confirmed it (0: never)
    bool ever_confirmed = false;
  };
  std::map<std::string, Channel> channels_;
};

// One connection (commands or pub/sub) and its life: connect, serve, lose, back off, reconnect.
class RedisClient::Impl::Connection {
 public:
  enum class Mode { kCommands, kSubscriber };
  enum class State { kConnecting, kUp, kBackoff, kStopped };

  Connection(Impl& client, Mode mode)
      : client_(client), mode_(mode), wake_(client.io_), watch_(client.io_), done_(client.io_), backoff_(client.io_) {}

  void start() {
    asio::co_spawn(client_.io_, run(), [](std::exception_ptr) {});
  }

  void stop() {
    const Error why = unavailable("the client is shutting down");
    const State was = state_;
    state_ = State::kStopped;
    if (was == State::kUp) lose(gen_, why, /*stopping=*/true);
    if (connecting_) {
      error_code ignored;
      connecting_->lowest_layer().close(ignored);
    }
    if (resolver_) resolver_->cancel();
    backoff_.cancel();
    done_.cancel();
    fail_all(why);
  }

  State state() const { return state_; }
  std::uint64_t gen() const { return gen_; }
  const std::optional<Error>& last_error() const { return last_error_; }

  void submit(const std::shared_ptr<Request>& req) {
    if (state_ == State::kStopped) return finish_request(*req, unavailable("the client is shutting down"));
    if (state_ == State::kBackoff && last_error_) return finish_request(*req, *last_error_);
    queue_.push_back(req);
    client_.arm_deadline(req);
    if (state_ == State::kUp) wake_.cancel();
  }

  // Subscriber mode: bytes for the current connection (dropped when it is not up: re-sent on connect).
  void send_raw(std::string payload) {
    if (state_ != State::kUp) return;
    out_ += payload;
    wake_.cancel();
  }

 private:
  Task<void> run() {
    auto backoff = client_.options_.reconnect_min;
    std::mt19937 rng(std::random_device{}());
    std::string last_logged;
    while (state_ != State::kStopped) {
      state_ = State::kConnecting;
      auto stream = co_await establish();
      if (state_ == State::kStopped) co_return;
      if (!stream.ok()) {
        last_error_ = stream.error();
        state_ = State::kBackoff;
        fail_all(*last_error_);
        if (mode_ == Mode::kSubscriber) client_.fail_subscribe_waiters(*last_error_);
        if (last_error_->message != last_logged) {
          last_logged = last_error_->message;
          client_.log(std::string(mode_name()) + " connection to " + client_.endpoint_.redacted() +
                      " failed: " + last_error_->message);
        }
        const auto ms = std::max<std::int64_t>(1, backoff.count());
        std::uniform_int_distribution<std::int64_t> jitter(ms / 2, ms);
        backoff_.expires_after(std::chrono::milliseconds(jitter(rng)));
        error_code ec;
        co_await backoff_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        backoff = std::min(backoff * 2, client_.options_.reconnect_max);
        continue;
      }
      backoff = client_.options_.reconnect_min;
      last_logged.clear();
      last_error_.reset();
      stream_ = std::move(stream).value();
      const std::uint64_t gen = ++gen_;
      state_ = State::kUp;
      last_read_ = Clock::now();
      ping_sent_ = false;
      client_.log(std::string(mode_name()) + " connection to " + client_.endpoint_.redacted() + " established");
      done_.expires_at(Clock::time_point::max());
      auto on_exit = [this, gen](std::exception_ptr e) {
        if (e) lose(gen, internal("unexpected failure in the connection"));
      };
      asio::co_spawn(client_.io_, read_loop(stream_, gen), on_exit);
      asio::co_spawn(client_.io_, write_loop(stream_, gen), on_exit);
      asio::co_spawn(client_.io_, watchdog(gen), on_exit);
      if (mode_ == Mode::kSubscriber) client_.on_pubsub_up(gen);
      if (state_ == State::kUp && gen_ == gen) {
        error_code ec;
        co_await done_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      }
      if (state_ == State::kStopped) co_return;
      // Lost: a short pause (calls queue meanwhile) so that a server dropping every connection is not hammered.
      std::uniform_int_distribution<std::int64_t> pause(1, std::max<std::int64_t>(1, backoff.count()));
      backoff_.expires_after(std::chrono::milliseconds(pause(rng)));
      error_code ec;
      co_await backoff_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
  }

  const char* mode_name() const { return mode_ == Mode::kCommands ? "redis" : "redis pub/sub"; }

  // TCP connect, TLS handshake, AUTH and SELECT, all within connect_timeout.
  Task<Result<std::shared_ptr<Stream>>> establish() {
    const auto& ep = client_.endpoint_;
    const auto& opt = client_.options_;
    auto stream = std::make_shared<Stream>(client_.io_, *client_.ssl_);
    auto resolver = std::make_shared<tcp::resolver>(client_.io_);
    connecting_ = stream;
    resolver_ = resolver;
    struct Reset {
      Connection* c;
      ~Reset() {
        c->connecting_.reset();
        c->resolver_.reset();
      }
    } reset{this};

    // The guard may fire after this coroutine ended (its completion already queued): it holds weak references.
    asio::steady_timer guard(client_.io_);
    auto timed_out = std::make_shared<bool>(false);
    guard.expires_after(opt.connect_timeout);
    guard.async_wait([timed_out, weak_stream = std::weak_ptr<Stream>(stream),
                      weak_resolver = std::weak_ptr<tcp::resolver>(resolver)](error_code ec) {
      if (ec) return;
      *timed_out = true;
      if (auto r = weak_resolver.lock()) r->cancel();
      if (auto s = weak_stream.lock()) {
        error_code ignored;
        s->lowest_layer().close(ignored);
      }
    });
    struct CancelGuard {
      asio::steady_timer& t;
      ~CancelGuard() { t.cancel(); }
    } cancel_guard{guard};

    auto fail = [&](std::string step, const error_code& ec) -> Error {
      if (*timed_out) return unavailable(step + ": timed out after " + millis(opt.connect_timeout));
      return unavailable(step + ": " + ec.message());
    };

    error_code ec;
    auto endpoints = co_await resolver->async_resolve(ep.host, std::to_string(ep.port),
                                                      asio::redirect_error(asio::use_awaitable, ec));
    if (ec || *timed_out) co_return fail("resolving " + ep.host, ec);
    co_await asio::async_connect(stream->lowest_layer(), endpoints, asio::redirect_error(asio::use_awaitable, ec));
    if (ec || *timed_out) co_return fail("connecting", ec);
    stream->lowest_layer().set_option(tcp::no_delay(true), ec);
    if (ep.tls) {
      error_code addr_ec;
      (void)asio::ip::make_address(ep.host, addr_ec);
      if (addr_ec) SSL_set_tlsext_host_name(stream->native_handle(), ep.host.c_str());  // SNI for names only
      stream->set_verify_mode(asio::ssl::verify_peer);
      stream->set_verify_callback(asio::ssl::host_name_verification(ep.host));
      co_await stream->async_handshake(asio::ssl::stream_base::client, asio::redirect_error(asio::use_awaitable, ec));
      if (ec || *timed_out) co_return fail("TLS handshake", ec);
    }

    reader_ = std::make_unique<RespReader>();
    std::vector<std::vector<std::string>> hello;
    if (!ep.user.empty()) {
      hello.push_back({"AUTH", ep.user, ep.password});
    } else if (!ep.password.empty()) {
      hello.push_back({"AUTH", ep.password});
    }
    if (ep.db != 0) hello.push_back({"SELECT", std::to_string(ep.db)});
    if (hello.empty()) co_return stream;
    std::string payload;
    for (const auto& cmd : hello) payload += encode_redis_command(cmd);
    if (ep.tls) {
      co_await asio::async_write(*stream, asio::buffer(payload), asio::redirect_error(asio::use_awaitable, ec));
    } else {
      co_await asio::async_write(stream->next_layer(), asio::buffer(payload),
                                 asio::redirect_error(asio::use_awaitable, ec));
    }
    if (ec || *timed_out) co_return fail("sending AUTH/SELECT", ec);
    std::vector<char> buf(4096);
    for (std::size_t answered = 0; answered < hello.size();) {
      RedisValue v;
      std::string perr;
      const int got = reader_->next(v, perr);
      if (got < 0) co_return internal("protocol error during the handshake: " + perr);
      if (got == 1) {
        if (v.is_error()) {
          const bool auth = hello[answered][0] == "AUTH";
          // The server's text (e.g. "WRONGPASS invalid username-password pair ...") never contains the password.
          co_return unavailable((auth ? "AUTH failed: " : "SELECT failed: ") + v.str);
        }
        ++answered;
        continue;
      }
      std::size_t n = 0;
      if (ep.tls) {
        n = co_await stream->async_read_some(asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
      } else {
        n = co_await stream->next_layer().async_read_some(asio::buffer(buf),
                                                          asio::redirect_error(asio::use_awaitable, ec));
      }
      if (ec || *timed_out) co_return fail("reading the AUTH/SELECT answer", ec);
      if (!reader_->feed(buf.data(), n)) co_return internal("out of memory");
    }
    co_return stream;
  }

  Task<void> read_loop(std::shared_ptr<Stream> s, std::uint64_t gen) {
    std::vector<char> buf(16 * 1024);
    const bool tls = client_.endpoint_.tls;
    for (;;) {
      error_code ec;
      std::size_t n = 0;
      if (tls) {
        n = co_await s->async_read_some(asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
      } else {
        n = co_await s->next_layer().async_read_some(asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
      }
      if (gen != gen_ || state_ != State::kUp) co_return;
      if (ec) {
        lose(gen, unavailable("connection lost: " + ec.message()));
        co_return;
      }
      last_read_ = Clock::now();
      ping_sent_ = false;
      if (!reader_->feed(buf.data(), n)) {
        lose(gen, internal("out of memory"));
        co_return;
      }
      for (;;) {
        RedisValue v;
        std::string perr;
        const int got = reader_->next(v, perr);
        if (got < 0) {
          lose(gen, internal("protocol error: " + perr));
          co_return;
        }
        if (got == 0) break;
        on_reply(std::move(v), gen);
        if (gen != gen_ || state_ != State::kUp) co_return;
      }
    }
  }

  Task<void> write_loop(std::shared_ptr<Stream> s, std::uint64_t gen) {
    const bool tls = client_.endpoint_.tls;
    std::string buf;
    for (;;) {
      if (gen != gen_ || state_ != State::kUp) co_return;
      collect();
      if (out_.empty()) {
        wake_.expires_at(Clock::time_point::max());
        error_code ec;
        co_await wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        continue;
      }
      buf.clear();
      buf.swap(out_);
      error_code ec;
      if (tls) {
        co_await asio::async_write(*s, asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
      } else {
        co_await asio::async_write(s->next_layer(), asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
      }
      if (gen != gen_ || state_ != State::kUp) co_return;
      if (ec) {
        lose(gen, unavailable("connection lost while writing: " + ec.message()));
        co_return;
      }
      if (buf.capacity() > (1u << 20)) std::string().swap(buf);
    }
  }

  // Drops a connection that stopped answering; keeps an idle pub/sub connection checked with PING.
  Task<void> watchdog(std::uint64_t gen) {
    const auto& opt = client_.options_;
    const auto tick = std::clamp(opt.stall_timeout / 4, std::chrono::milliseconds(10), std::chrono::milliseconds(1000));
    for (;;) {
      watch_.expires_after(tick);
      error_code ec;
      co_await watch_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (gen != gen_ || state_ != State::kUp) co_return;
      const auto now = Clock::now();
      if (mode_ == Mode::kCommands) {
        if (!inflight_.empty() && now - inflight_.front()->sent_at > opt.stall_timeout) {
          lose(gen, unavailable("no reply for " + millis(opt.stall_timeout) + "; reconnecting"));
          co_return;
        }
      } else if (!ping_sent_ && now - last_read_ > opt.pubsub_ping_interval) {
        ping_sent_ = true;
        ping_at_ = now;
        send_raw(encode_redis_command({"PING"}));
      } else if (ping_sent_ && now - ping_at_ > opt.stall_timeout) {
        lose(gen, unavailable("no answer to PING for " + millis(opt.stall_timeout) + "; reconnecting"));
        co_return;
      }
    }
  }

  // Moves the queued calls that are still waiting into the output, in order, and expects their replies.
  void collect() {
    if (queue_.empty()) return;
    const auto now = Clock::now();
    for (auto& req : queue_) {
      if (!req->done) continue;  // past its deadline before being sent: never sent
      out_ += req->payload;
      std::string().swap(req->payload);
      req->sent_at = now;
      req->sent = true;
      inflight_.push_back(std::move(req));
    }
    queue_.clear();
  }

  void on_reply(RedisValue v, std::uint64_t gen) {
    if (mode_ == Mode::kSubscriber) return client_.on_push(std::move(v), gen);
    if (inflight_.empty()) return lose(gen, internal("protocol error: a reply nobody asked for"));
    auto req = std::move(inflight_.front());
    inflight_.pop_front();
    if (req->done && client_.options_.on_round_trip) {
      client_.options_.on_round_trip(std::chrono::duration<double>(Clock::now() - req->sent_at).count());
    }
    finish_request(*req, std::move(v));
  }

  void lose(std::uint64_t gen, const Error& why, bool stopping = false) {
    if (gen != gen_ || (state_ != State::kUp && !stopping)) return;
    if (!stopping) {
      state_ = State::kConnecting;
      client_.log(std::string(mode_name()) + " connection to " + client_.endpoint_.redacted() +
                  " lost: " + why.message);
    }
    ++gen_;  // the loops of the lost connection see a new generation and end
    if (stream_) {
      error_code ignored;
      stream_->lowest_layer().close(ignored);
      stream_.reset();
    }
    std::string().swap(out_);
    for (auto& req : inflight_) finish_request(*req, why);
    inflight_.clear();
    wake_.cancel();
    watch_.cancel();
    done_.cancel();
  }

  void fail_all(const Error& why) {
    for (auto& req : queue_) finish_request(*req, why);
    queue_.clear();
    for (auto& req : inflight_) finish_request(*req, why);
    inflight_.clear();
  }

  Impl& client_;
  const Mode mode_;
  State state_ = State::kConnecting;
  std::uint64_t gen_ = 0;
  std::optional<Error> last_error_;
  std::shared_ptr<Stream> stream_;
  std::shared_ptr<Stream> connecting_;
  std::shared_ptr<tcp::resolver> resolver_;
  std::unique_ptr<RespReader> reader_;
  std::deque<std::shared_ptr<Request>> queue_;     // not sent yet
  std::deque<std::shared_ptr<Request>> inflight_;  // sent, awaiting their replies in order
  std::string out_;
  Clock::time_point last_read_{};
  Clock::time_point ping_at_{};
  bool ping_sent_ = false;
  asio::steady_timer wake_;     // the writer waits on it
  asio::steady_timer watch_;    // the watchdog's tick
  asio::steady_timer done_;     // run() waits on it while the connection is up
  asio::steady_timer backoff_;  // between attempts
};

RedisClient::Impl::Impl(RedisClientOptions options, RedisEndpoint endpoint, std::unique_ptr<asio::ssl::context> ssl)
    : guard_(asio::make_work_guard(io_)),
      options_(std::move(options)),
      endpoint_(std::move(endpoint)),
      ssl_(std::move(ssl)) {
  commands_ = std::make_unique<Connection>(*this, Connection::Mode::kCommands);
}

RedisClient::Impl::~Impl() = default;

void RedisClient::Impl::start() {
  commands_->start();
  thread_ = std::thread([this] {
    for (;;) {
      try {
        io_.run();
        return;
      } catch (...) {
        // A handler threw (it should not): keep the client's thread alive.
      }
    }
  });
}

void RedisClient::Impl::shutdown() {
  asio::post(io_, [this] {
    stopping_ = true;
    commands_->stop();
    if (pubsub_) pubsub_->stop();
    fail_subscribe_waiters(unavailable("the client is shutting down"));
    channels_.clear();
  });
  guard_.reset();
  if (thread_.joinable()) thread_.join();
}

void RedisClient::Impl::arm_deadline(const std::shared_ptr<Request>& req) {
  req->timer.expires_at(req->deadline);
  req->timer.async_wait([weak = std::weak_ptr<Request>(req), timeout = options_.command_timeout](error_code ec) {
    if (ec) return;
    if (auto r = weak.lock(); r && r->done) {
      finish_request(*r, unavailable("no reply within " + millis(timeout)));
    }
  });
}

Task<Result<RedisValue>> RedisClient::Impl::call(std::string payload, Clock::time_point deadline, bool* sent) {
  auto req = std::make_shared<Request>(io_);
  req->payload = std::move(payload);
  req->deadline = deadline;
  auto initiate = [this, req](auto handler) {
    req->done = std::make_unique<HandlerCompletion<decltype(handler)>>(std::move(handler));
    asio::post(io_, [this, req] { commands_->submit(req); });
  };
  auto r = co_await asio::async_initiate<decltype(asio::use_awaitable), void(Result<RedisValue>)>(std::move(initiate),
                                                                                                  asio::use_awaitable);
  if (sent != nullptr) *sent = req->sent;
  co_return r;
}

Result<RedisValue> RedisClient::Impl::finish(Result<RedisValue> r) const {
  if (r.ok() && r->is_error()) {
    r = transient_error_reply(r->str) ? unavailable(r->str) : internal(r->str);
  }
  if (!r.ok() && options_.on_error) options_.on_error();
  return r;
}

Task<Result<RedisValue>> RedisClient::Impl::subscribe(std::string channel, MessageHandler on_message,
                                                      std::function<void()> on_resubscribed) {
  const auto deadline = this->deadline();
  auto initiate = [&](auto handler) {
    auto req = std::make_shared<Request>(io_);
    req->deadline = deadline;
    req->done = std::make_unique<HandlerCompletion<decltype(handler)>>(std::move(handler));
    asio::post(io_, [this, req, channel = std::move(channel), on_message = std::move(on_message),
                     on_resubscribed = std::move(on_resubscribed)]() mutable {
      if (stopping_) return finish_request(*req, unavailable("the client is shutting down"));
      auto& ch = channels_[channel];
      ch.handlers.push_back(std::move(on_message));
      if (on_resubscribed) ch.on_resubscribed.push_back(std::move(on_resubscribed));
      if (!pubsub_) {
        pubsub_ = std::make_unique<Connection>(*this, Connection::Mode::kSubscriber);
        pubsub_->start();
      }
      if (pubsub_->state() == Connection::State::kUp && ch.confirmed_gen == pubsub_->gen()) {
        return finish_request(*req, RedisValue{});
      }
      if (pubsub_->state() == Connection::State::kBackoff && pubsub_->last_error()) {
        return finish_request(*req, *pubsub_->last_error());  // registered all the same: subscribed on reconnect
      }
      ch.waiters.push_back(req);
      arm_deadline(req);
      // Up: subscribe now (a repeated SUBSCRIBE of the same channel is harmless). Otherwise on_pubsub_up does.
      pubsub_->send_raw(encode_redis_command({"SUBSCRIBE", channel}));
    });
  };
  co_return co_await asio::async_initiate<decltype(asio::use_awaitable), void(Result<RedisValue>)>(std::move(initiate),
                                                                                                   asio::use_awaitable);
}

void RedisClient::Impl::unsubscribe(std::string channel) {
  asio::post(io_, [this, channel = std::move(channel)] {
    auto it = channels_.find(channel);
    if (it == channels_.end()) return;
    for (auto& w : it->second.waiters) finish_request(*w, unavailable("unsubscribed"));
    channels_.erase(it);
    if (pubsub_) pubsub_->send_raw(encode_redis_command({"UNSUBSCRIBE", channel}));
  });
}

void RedisClient::Impl::fail_subscribe_waiters(const Error& why) {
  for (auto& [name, ch] : channels_) {
    for (auto& w : ch.waiters) finish_request(*w, why);
    ch.waiters.clear();
  }
}

void RedisClient::Impl::on_pubsub_up(std::uint64_t /*gen*/) {
  if (channels_.empty()) return;
  std::vector<std::string> cmd{"SUBSCRIBE"};
  for (const auto& [name, ch] : channels_) cmd.push_back(name);
  pubsub_->send_raw(encode_redis_command(cmd));
}

void RedisClient::Impl::on_push(RedisValue v, std::uint64_t gen) {
  if (!v.is_array() || v.elements.empty() || v.elements[0].type != RedisValue::Type::kString) {
    if (v.is_error()) log("redis pub/sub: " + v.str);
    return;
  }
  const std::string& kind = v.elements[0].str;
  if (kind == "message" && v.elements.size() == 3) {
    auto it = channels_.find(v.elements[1].str);
    if (it == channels_.end()) return;
    // Copy: a handler may (indirectly) change the registrations.
    const auto handlers = it->second.handlers;
    for (const auto& h : handlers) {
      try {
        h(v.elements[1].str, v.elements[2].str);
      } catch (...) {
      }
    }
  } else if (kind == "subscribe" && v.elements.size() >= 2) {
    auto it = channels_.find(v.elements[1].str);
    if (it == channels_.end()) return;
    Channel& ch = it->second;
    if (ch.confirmed_gen == gen) return;
    const bool again = ch.ever_confirmed;
    ch.confirmed_gen = gen;
    ch.ever_confirmed = true;
    auto waiters = std::move(ch.waiters);
    ch.waiters.clear();
    for (auto& w : waiters) finish_request(*w, RedisValue{});
    if (again) {
      const auto callbacks = ch.on_resubscribed;
      for (const auto& cb : callbacks) {
        try {
          cb();
        } catch (...) {
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The public face.

RedisClient::RedisClient(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

RedisClient::~RedisClient() { impl_->shutdown(); }

Result<std::unique_ptr<RedisClient>> RedisClient::create(RedisClientOptions options) {
  auto endpoint = parse_redis_url(options.url);
  if (!endpoint.ok()) return endpoint.error();
  if (options.command_timeout.count() <= 0 || options.connect_timeout.count() <= 0 ||
      options.reconnect_min.count() <= 0 || options.reconnect_max < options.reconnect_min ||
      options.stall_timeout.count() <= 0 || options.pubsub_ping_interval.count() <= 0) {
    return make_error("invalid_configuration", "redis client: timeouts must be positive");
  }
  auto ssl = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
  error_code ec;
  ssl->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1,
                   ec);
  if (!ec) {
    if (options.tls_ca_file.empty()) {
      ssl->set_default_verify_paths(ec);
    } else {
      ssl->load_verify_file(options.tls_ca_file, ec);
    }
  }
  if (!ec) ssl->set_verify_mode(asio::ssl::verify_peer, ec);
  if (ec && endpoint->tls) {
    return make_error("invalid_configuration", "redis client: TLS set-up failed: " + ec.message());
  }
  auto impl = std::make_shared<Impl>(std::move(options), std::move(endpoint).value(), std::move(ssl));
  impl->start();
  return std::unique_ptr<RedisClient>(new RedisClient(std::move(impl)));
}

Task<Result<RedisValue>> RedisClient::command(std::vector<std::string> args) {
  auto r = co_await impl_->call(encode_redis_command(args), impl_->deadline());
  co_return impl_->finish(std::move(r));
}

Task<Result<RedisValue>> RedisClient::eval(const RedisScript& script, std::vector<std::string> keys,
                                           std::vector<std::string> args, RedisCallInfo* info) {
  const auto deadline = impl_->deadline();
  std::vector<std::string> cmd;
  cmd.reserve(3 + keys.size() + args.size());
  cmd.push_back("EVALSHA");
  cmd.push_back(script.sha1());
  cmd.push_back(std::to_string(keys.size()));
  for (auto& k : keys) cmd.push_back(std::move(k));
  for (auto& a : args) cmd.push_back(std::move(a));
  std::string payload = encode_redis_command(cmd);
  bool sent = false;
  auto r = co_await impl_->call(payload, deadline, &sent);
  if (r.ok() && r->is_error() && r->str.starts_with("NOSCRIPT")) {
    // The EVALSHA did not run: what matters from here on is the retry.
    std::vector<std::string> load{"SCRIPT", "LOAD", script.source()};
    auto loaded = co_await impl_->call(encode_redis_command(load), deadline);
    if (!loaded.ok() || loaded->is_error()) co_return impl_->finish(std::move(loaded));
    r = co_await impl_->call(std::move(payload), deadline, &sent);
  }
  if (info != nullptr) info->maybe_executed = !r.ok() && sent;
  co_return impl_->finish(std::move(r));
}

Task<Status> RedisClient::ping() {
  std::vector<std::string> cmd{"PING"};
  auto r = co_await command(std::move(cmd));
  if (!r.ok()) co_return std::move(r).take_error();
  co_return Ok{};
}

Task<Result<std::int64_t>> RedisClient::publish(std::string channel, std::string message) {
  std::vector<std::string> cmd{"PUBLISH", std::move(channel), std::move(message)};
  auto r = co_await command(std::move(cmd));
  if (!r.ok()) co_return std::move(r).take_error();
  if (r->type != RedisValue::Type::kInteger) co_return impl_->finish(internal("PUBLISH: unexpected reply")).error();
  co_return r->integer;
}

Task<Status> RedisClient::subscribe(std::string channel, MessageHandler on_message,
                                    std::function<void()> on_resubscribed) {
  auto r = co_await impl_->subscribe(std::move(channel), std::move(on_message), std::move(on_resubscribed));
  r = impl_->finish(std::move(r));
  if (!r.ok()) co_return std::move(r).take_error();
  co_return Ok{};
}

Task<Status> RedisClient::unsubscribe(std::string channel) {
  impl_->unsubscribe(std::move(channel));
  co_return Ok{};
}

const RedisEndpoint& RedisClient::endpoint() const { return impl_->endpoint_; }

Executor RedisClient::executor() const { return impl_->io_.get_executor(); }

}  // namespace txv::cache
