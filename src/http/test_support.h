// Helpers for the http tests: run a Task to completion, a blocking test
// client on raw POSIX sockets (with a receive timeout, so a broken server
// fails a test instead of hanging it).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <cctype>
#include <exception>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "common/async.h"
#include "common/result.h"
#include "http/message.h"

namespace txv::http::testing {

template <class T>
T run_task(Task<T> task) {
  asio::io_context context;
  std::optional<T> out;
  std::exception_ptr error;
  asio::co_spawn(context, std::move(task), [&](std::exception_ptr e, T value) {
    error = e;
    if (!e) out.emplace(std::move(value));
  });
  context.run();
  if (error) std::rethrow_exception(error);
  return std::move(*out);
}

struct RawResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

class Client {
 public:
  // Connects at once unless `connect_now` is false (then call connect()).
  explicit Client(unsigned short port, bool connect_now = true, int timeout_seconds = 30) : port_(port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error("socket");
    timeval tv{timeout_seconds, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect_now) connect();
  }

  void connect() {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port_);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) throw std::runtime_error("connect");
  }
  ~Client() { close(); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // False when the peer no longer takes data (reset, closed).
  bool send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // One response (header and Content-Length body); nullopt when the
  // connection ended (or timed out) before a whole response arrived.
  std::optional<RawResponse> read_response() {
    for (;;) {
      auto end = buffer_.find("\r\n\r\n");
      if (end != std::string::npos) {
        RawResponse r;
        std::string_view head(buffer_.data(), end);
        auto line_end = head.find("\r\n");
        std::string_view status_line = head.substr(0, line_end);
        if (status_line.size() < 12) return std::nullopt;
        r.status = std::stoi(std::string(status_line.substr(9, 3)));
        std::size_t pos = line_end == std::string_view::npos ? head.size() : line_end + 2;
        while (pos < head.size()) {
          auto next = head.find("\r\n", pos);
          if (next == std::string_view::npos) next = head.size();
          std::string_view line = head.substr(pos, next - pos);
          auto colon = line.find(':');
          std::string name(line.substr(0, colon));
          for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
          std::string_view value = colon == std::string_view::npos ? "" : line.substr(colon + 1);
          while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
          r.headers[name] = std::string(value);
          pos = next + 2;
        }
        std::size_t length = r.headers.count("content-length") ? std::stoul(r.headers["content-length"]) : 0;
        if (head_only_) length = 0;
        while (buffer_.size() < end + 4 + length) {
          if (!fill()) return std::nullopt;
        }
        r.body = buffer_.substr(end + 4, length);
        buffer_.erase(0, end + 4 + length);
        return r;
      }
      if (!fill()) return std::nullopt;
    }
  }

  // Reads until the peer closes the connection (EOF or reset): true, and
  // what was still received in `rest`; false on a timeout.
  bool read_until_closed(std::string* rest = nullptr) {
    for (;;) {
      char chunk[16384];
      ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n > 0) {
        buffer_.append(chunk, static_cast<std::size_t>(n));
        continue;
      }
      bool closed = n == 0 || errno == ECONNRESET;
      if (rest) *rest = buffer_;
      return closed;
    }
  }

  // The next response is to a HEAD request: it has no body whatever its Content-Length.
  void expect_head() { head_only_ = true; }
  void expect_body() { head_only_ = false; }

  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int fd() const { return fd_; }

 private:
  bool fill() {
    char chunk[16384];
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buffer_.append(chunk, static_cast<std::size_t>(n));
    return true;
  }

  unsigned short port_;
  int fd_ = -1;
  std::string buffer_;
  bool head_only_ = false;
};

// The contract's error shape, enough for a Dispatcher under test (the real
// renderer lives in the api layer above http/).
inline Response render_error(int status, const Error& e) {
  Response r;
  r.status = status;
  r.body = "{\"error\":{\"code\":\"" + std::string(to_string(e.code)) + "\",\"message\":\"" + e.message +
           "\",\"details\":[]}}";
  return r;
}

}  // namespace txv::http::testing
