// A small Redis client on Boost.Asio (RESP2), for the shared back-ends of the
// counters and rate limits (redis_velocity_counters.h, redis_rate_limiter.h)
// and for broadcasting between replicas (publish / subscribe).
//
// URL: `redis://[user:password@]host[:port][/db]` or `rediss://...` (TLS).
// User and password are percent-decoded; an empty user with a password sends
// `AUTH password` (the one-argument form, the `default` user), a user sends
// `AUTH user password`. `/db` (default 0) is selected with SELECT after AUTH.
// The password is never logged nor put into an error message: endpoint()
// .redacted() prints the URL with `***` in its place.
//
// TLS (`rediss://`): TLS 1.2 or newer; the server's certificate is verified
// against OpenSSL's default CA paths (the system store; OpenSSL honours the
// SSL_CERT_FILE / SSL_CERT_DIR environment variables, which is how the tests
// trust their throw-away CA) or against options.tls_ca_file when set, and its
// name against the URL's host (DNS name or IP address, SNI sent for names).
//
// Threading: the client owns an io_context and one thread, which does all the
// I/O and parsing. Every call is a Task (common/async.h) that may be awaited
// concurrently from any number of threads and executors: it never blocks the
// caller's thread, and it completes on the awaiting coroutine's own executor
// (the completion is posted back to it, like run_on). The client keeps
// outstanding work on that executor while a call is pending.
//
// Pipelining: one command connection. Calls are queued on the client thread
// and written back to back (everything queued goes out in one write), and the
// replies are matched to the calls in FIFO order, so any number of callers
// share one connection without waiting for each other's round trips.
//
// Deadline: every call has one, options.command_timeout (default 250 ms) from
// the moment it is made, covering the queueing, the connection set-up if one
// is under way, the round trip and, for eval(), a NOSCRIPT retry. A call past
// its deadline answers Error "unavailable". A command still queued at its
// deadline is never sent; one already sent may still be executed by the server
// (its reply is then read and dropped): the outcome of a timed-out write is
// unknown, which callers must allow for (redis_velocity_counters.h does).
//
// Connection failures: a lost connection fails the calls awaiting a reply
// ("unavailable"; again, a sent command may have been executed) and is
// re-established in the background with exponential backoff (reconnect_min
// doubling up to reconnect_max, with jitter). While the client is backing off
// after a failed attempt, calls fail at once with the last error instead of
// waiting for their deadline (so a request path that fails open is not slowed
// down by an outage). A connection whose oldest call has waited stall_timeout
// for its reply (a hung server or a black-holed network) is dropped and
// re-established.
//
// Errors are values: Error "unavailable" for connection problems, deadlines
// and the server's transient refusals (LOADING, BUSY, OOM, READONLY,
// MASTERDOWN, TRYAGAIN, CLUSTERDOWN), Error "internal" for protocol errors and
// other error replies (e.g. a script error). No exception crosses the
// interface.
//
// Pub/sub: subscribe() uses a second connection, opened on first use, that is
// re-established like the command connection and re-subscribes every channel
// after a reconnect (pub/sub is at-most-once: messages published while it was
// down are lost, so a subscriber is told through `on_resubscribed` and should
// re-read whatever the messages announce). It sends PING when idle to notice a
// dead connection. publish() goes over the command connection.
//
// Metrics without a metrics dependency: on_round_trip(seconds) for every reply
// (write to reply), on_error() for every call that answers an Error. Both may
// be called from any thread, concurrently.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/async.h"
#include "common/result.h"

namespace txv::cache {

// A parsed Redis URL.
struct RedisEndpoint {
  bool tls = false;
  std::string host;  // a name, or an IP address (IPv6 without brackets)
  std::uint16_t port = 6379;
  std::string user;      // empty: AUTH with the password only
  std::string password;  // empty and no user: no AUTH
  int db = 0;
  // The URL with the password replaced by `***` (safe to log).
  std::string redacted() const;
};

// Error "invalid_configuration" naming what is wrong (never echoing the password).
Result<RedisEndpoint> parse_redis_url(std::string_view url);

// One RESP2 reply.
struct RedisValue {
  enum class Type { kNil, kString, kStatus, kInteger, kError, kArray };
  Type type = Type::kNil;
  std::int64_t integer = 0;
  std::string str;  // kString, kStatus, kError
  std::vector<RedisValue> elements;

  bool is_nil() const { return type == Type::kNil; }
  bool is_error() const { return type == Type::kError; }
  bool is_array() const { return type == Type::kArray; }
};

// A Lua script run with EVALSHA (its SHA-1 is computed here); loaded with
// SCRIPT LOAD and retried when the server answers NOSCRIPT (after a restart,
// a failover or SCRIPT FLUSH).
class RedisScript {
 public:
  explicit RedisScript(std::string source);
  const std::string& source() const { return source_; }
  const std::string& sha1() const { return sha1_; }

 private:
  std::string source_;
  std::string sha1_;  // lower-case hex
};

struct RedisClientOptions {
  std::string url;  // see the header comment
  std::chrono::milliseconds command_timeout{250};
  std::chrono::milliseconds connect_timeout{2000};  // TCP + TLS + AUTH/SELECT, per attempt
  std::chrono::milliseconds reconnect_min{50};
  std::chrono::milliseconds reconnect_max{1000};
  std::chrono::milliseconds stall_timeout{3000};
  std::chrono::milliseconds pubsub_ping_interval{5000};
  // PEM file of the CA(s) to trust for rediss://; empty: OpenSSL's default paths.
  std::string tls_ca_file;
  // Hooks (optional). on_log gets connection state changes ("connected", "lost: ...", never a password).
  std::function<void(double seconds)> on_round_trip;
  std::function<void()> on_error;
  std::function<void(std::string_view)> on_log;
};

// What a call can tell besides its answer.
struct RedisCallInfo {
  // Set when the call answered an Error after its command (or its retry) was written to a connection: the server
  // may have executed it (deadline passed or connection lost while awaiting the reply). Unset: it never ran.
  bool maybe_executed = false;
};

class RedisClient {
 public:
  // Parses the URL and starts the client's thread; connects in the background (the first calls wait for the
  // connection within their deadline). Error "invalid_configuration" for a bad URL or TLS set-up.
  static Result<std::unique_ptr<RedisClient>> create(RedisClientOptions options);
  // Fails every pending call ("unavailable"), closes the connections and joins the thread. Calls must not be made
  // after (or concurrently with) destruction, and the client must not be destroyed on its own thread (from a
  // pub/sub handler). Destroy what uses it (counters, rate limiter) first.
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // One command, e.g. {"SET", key, value}. An error reply answers an Error (see the header comment).
  Task<Result<RedisValue>> command(std::vector<std::string> args);
  // EVALSHA script keys... args..., with SCRIPT LOAD and one retry on NOSCRIPT, all within one deadline.
  // `info`, if given, must stay valid until the call completes (await it at once).
  Task<Result<RedisValue>> eval(const RedisScript& script, std::vector<std::string> keys, std::vector<std::string> args,
                                RedisCallInfo* info = nullptr);
  // PING: Ok once the server answers (e.g. a readiness check).
  Task<Status> ping();

  // Publishes to a channel; answers how many subscribers (of the whole server) received it.
  Task<Result<std::int64_t>> publish(std::string channel, std::string message);

  using MessageHandler = std::function<void(std::string_view channel, std::string_view message)>;
  // Registers `on_message` for `channel` (several handlers per channel are allowed) and subscribes. The
  // registration is kept whatever the answer: Ok once the server confirmed the subscription, Error
  // "unavailable" if it did not within the deadline (the subscription is then made as soon as the connection
  // is up). `on_resubscribed`, if set, is called after each re-subscription that follows a lost connection
  // (messages may have been missed meanwhile). Handlers run on the client's thread: keep them short and
  // non-blocking (post real work elsewhere); an exception from a handler is swallowed.
  Task<Status> subscribe(std::string channel, MessageHandler on_message, std::function<void()> on_resubscribed = {});
  // Drops every handler of `channel` and unsubscribes (Ok at once; the server is told in the background).
  Task<Status> unsubscribe(std::string channel);

  const RedisEndpoint& endpoint() const;
  // The client's own executor (its I/O thread), e.g. for background work that must not outlive the client.
  Executor executor() const;

  class Impl;  // public for the implementation's helpers only

 private:
  explicit RedisClient(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

// RESP2 encoding of one command (exposed for tests).
std::string encode_redis_command(const std::vector<std::string>& args);

}  // namespace txv::cache
