// HTTP/1.1 server: Boost.Beast on Boost.Asio C++20 coroutines, keep-alive,
// optional TLS 1.2+.
//
// Threads: `threads` I/O threads (TXV_THREADS: one per core), each running
// its own io_context; one acceptor hands new connections to the contexts in
// turn, and a connection lives on its context for good. Why one context per
// thread rather than one shared context run by N threads: a connection's
// coroutine and everything it awaits (store completions are posted back to
// the awaiting coroutine's executor, common/async.h) resume on the thread that
// owns the connection, so no strand is needed, nothing hops between threads,
// and the scheduler's queue is not contended by N threads. The price is no
// work stealing: a busy connection cannot move to an idle thread, which
// matters little for many short requests over many connections.
//
// No thread per connection or per request, and nothing blocks an I/O thread:
// each connection is one coroutine (co_spawn), and handlers are coroutines
// that suspend while they wait (dispatcher.h).
//
// Per request: read the header (at most 16 KiB) → refuse ambiguous framing
// (400 and close: a Transfer-Encoding other than a single final `chunked`,
// Transfer-Encoding on HTTP/1.0, both Content-Length and Transfer-Encoding,
// conflicting Content-Lengths, obs-fold header lines, two Authorization or
// Host headers; RFC 9112 §6.3) → Dispatcher::on_headers (routing, admission,
// the route's body limit) → when it answers, send the answer without reading
// the body (and close the connection if a body was announced) → else read the
// body within the limit (413 beyond, and close) → Dispatcher::on_body → write.
// The request body grows with the bytes received, never with the
// Content-Length a client declares; `Expect: 100-continue` is answered once
// the request was admitted.
//
// Before closing a connection with unread input (an early 401 or 413), the
// server stops sending and reads and discards what the client still sends,
// bounded in bytes and time, so a client that writes its whole body before
// reading still receives the answer instead of a reset.
//
// At the file-descriptor limit (EMFILE/ENFILE, also ENOBUFS/ENOMEM) the accept
// loop backs off (10 ms doubling to 1 s, reset by a successful accept), logs
// once per interval and counts txv_accept_errors_total{reason}; pending
// connections wait in the listen backlog meanwhile. start() raises the soft
// RLIMIT_NOFILE to the hard limit and logs the value reached.
//
// Lifecycle: start() binds (error value on failure) and serves;
// stop_accepting() closes the listener; wait_idle(deadline) waits for
// in-flight requests (a request counts from its complete header until its
// answer was written); stop() ends every connection and joins the threads.
// After stop_accepting() responses carry "Connection: close". Whatever
// completes work on the server's executors (a store's writer) must be stopped
// before stop().
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "common/result.h"
#include "http/dispatcher.h"

namespace txv::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  unsigned short port = 8080;  // 0: pick a free port (see bound_port())
  int threads = 2;             // I/O threads, one io_context each (TXV_THREADS)
  std::optional<std::string> tls_cert_file;
  std::optional<std::string> tls_key_file;
  // A connection with no request in progress is closed after this long; also
  // bounds each read of a header or body and each write.
  std::chrono::milliseconds idle_timeout = std::chrono::seconds(75);
};

// Raises the soft RLIMIT_NOFILE to the hard limit (capped by fs.nr_open);
// returns the soft limit in force afterwards (0 if it cannot be read).
std::uint64_t raise_open_file_limit();

class Server {
 public:
  // `dispatcher` must outlive the server; accept failures are counted in its metrics.
  Server(ServerOptions options, const Dispatcher& dispatcher);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  Status start();
  unsigned short bound_port() const;
  void stop_accepting();
  // True when no request is in flight before the deadline.
  bool wait_idle(std::chrono::steady_clock::time_point deadline);
  void stop();

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace txv::http
