#include "http/server.h"

#include <openssl/ssl.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <condition_variable>
#include <limits>
#include <mutex>
#include <thread>
#include <vector>

namespace txv::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;

namespace {
constexpr auto kIdleTimeout = std::chrono::seconds(75);
constexpr std::uint32_t kHeaderLimit = 16 * 1024;
constexpr auto kLingerTimeout = std::chrono::seconds(2);
constexpr std::size_t kLingerChunk = 16 * 1024;
constexpr std::size_t kLingerMaxBytes = 8 * 1024 * 1024;
}  // namespace

class Server::Impl {
 public:
  Impl(ServerOptions options, DispatchFn dispatch, TransportErrorFn transport_error)
      : options_(std::move(options)),
        dispatch_(std::move(dispatch)),
        transport_error_(std::move(transport_error)),
        work_(net::make_work_guard(ioc_)),
        acceptor_(net::make_strand(ioc_)) {}

  Status start();
  void accept();
  void stop_accepting() {
    draining_ = true;
    net::post(acceptor_.get_executor(), [this] {
      beast::error_code ec;
      acceptor_.close(ec);
    });
  }
  bool wait_idle(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock lock(idle_mu_);
    return idle_cv_.wait_until(lock, deadline, [this] { return in_flight_.load() == 0; });
  }
  void stop() {
    if (stopped_.exchange(true)) return;
    work_.reset();
    ioc_.stop();
    for (auto& t : io_threads_) {
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

  ServerOptions options_;
  DispatchFn dispatch_;
  TransportErrorFn transport_error_;
  net::io_context ioc_;
  // Keeps the I/O threads running when no socket operation is pending, e.g.
  // after the listener closed during a drain while a handler still runs.
  net::executor_work_guard<net::io_context::executor_type> work_;
  tcp::acceptor acceptor_;
  std::unique_ptr<ssl::context> tls_;
  std::vector<std::thread> io_threads_;
  std::atomic<bool> draining_{false};
  std::atomic<bool> stopped_{false};
  std::atomic<int> in_flight_{0};
  std::mutex idle_mu_;
  std::condition_variable idle_cv_;
  unsigned short port_ = 0;
};

namespace {

template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  Session(Server::Impl& server, Stream stream, std::string remote)
      : server_(server), stream_(std::move(stream)), remote_(std::move(remote)) {}

  void start() {
    if constexpr (std::is_same_v<Stream, ssl::stream<beast::tcp_stream>>) {
      beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(10));
      stream_.async_handshake(ssl::stream_base::server, [self = this->shared_from_this()](beast::error_code ec) {
        if (ec) return;
        self->read();
      });
    } else {
      read();
    }
  }

 private:
  void read() {
    parser_.emplace();
    // The real limit depends on the request line; it is applied in on_header().
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    parser_->header_limit(kHeaderLimit);
    beast::get_lowest_layer(stream_).expires_after(kIdleTimeout);
    bhttp::async_read_header(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code ec, std::size_t) { self->on_header(ec); });
  }

  void on_header(beast::error_code ec) {
    if (ec) return on_read(ec);
    // From its header on, a request counts as in flight: a drain waits for a
    // body that is still arriving.
    begin_request();
    std::size_t limit = server_.options_.max_body_bytes;
    if (server_.options_.body_limit_for) {
      const auto& header = parser_->get();
      limit = server_.options_.body_limit_for(header.method_string(), header.target());
    }
    auto declared = parser_->content_length();
    if (declared && *declared > limit) return reply_transport_error(413);
    parser_->body_limit(limit);
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = this->shared_from_this()](beast::error_code ec2, std::size_t) { self->on_read(ec2); });
  }

  void on_read(beast::error_code ec) {
    if (ec == bhttp::error::end_of_stream || ec == net::error::operation_aborted || ec == beast::error::timeout ||
        ec == net::error::eof || ec == net::error::connection_reset) {
      end_request();
      return close();
    }
    if (ec == bhttp::error::body_limit) return reply_transport_error(413);
    if (ec) {
      // A partial or garbled message: answer 400 when anything was received.
      if (parser_->got_some()) return reply_transport_error(400);
      end_request();
      return close();
    }
    auto message = parser_->release();
    Request request;
    request.method = std::string(message.method_string());
    std::string_view target = message.target();
    auto q = target.find('?');
    request.path = std::string(target.substr(0, q));
    if (q != std::string_view::npos) request.query = std::string(target.substr(q + 1));
    for (const auto& field : message) {
      std::string name(field.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      request.headers[name] = std::string(field.value());
    }
    request.body = std::move(message.body());
    request.remote_address = remote_;
    bool keep_alive = message.keep_alive();
    unsigned version = message.version();
    bool head = message.method() == bhttp::verb::head;

    // Inline on this I/O thread: only this connection's strand waits while the
    // handler blocks, and the response needs no hand-off back.
    Response response = server_.dispatch_(request);
    write(std::move(response), keep_alive, version, head);
  }

  void reply_transport_error(int status) {
    begin_request();
    write(server_.transport_error_(status, remote_), false, 11, false);
  }

  void begin_request() {
    if (!counted_) server_.request_started();
    counted_ = true;
  }
  void end_request() {
    if (counted_) server_.request_finished();
    counted_ = false;
  }

  void write(Response response, bool keep_alive, unsigned version, bool head) {
    auto res = std::make_shared<bhttp::response<bhttp::string_body>>();
    res->result(static_cast<unsigned>(response.status));
    res->version(version);
    res->set(bhttp::field::server, "txv");
    if (!response.body.empty() || response.status != 204) {
      res->set(bhttp::field::content_type, response.content_type);
    }
    for (auto& [name, value] : response.headers) res->set(name, value);
    res->keep_alive(keep_alive && !server_.draining_.load());
    std::size_t length = response.body.size();
    if (!head) res->body() = std::move(response.body);
    res->prepare_payload();
    if (head) res->content_length(length);
    bhttp::async_write(stream_, *res, [self = this->shared_from_this(), res](beast::error_code ec, std::size_t) {
      self->end_request();
      if (ec || !res->keep_alive()) return self->close();
      self->read();
    });
  }

  void close() {
    beast::error_code ec;
    if constexpr (std::is_same_v<Stream, ssl::stream<beast::tcp_stream>>) {
      beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(2));
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {
        beast::error_code ignored;
        beast::get_lowest_layer(self->stream_).socket().close(ignored);
      });
    } else {
      stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
      // Read and discard what the client still sends (the rest of a body
      // refused with 413, say) before closing, so the close does not reset the
      // connection before the client has read our answer. Bounded in bytes and time.
      beast::get_lowest_layer(stream_).expires_after(kLingerTimeout);
      discard_until_closed(0);
    }
  }

  void discard_until_closed(std::size_t discarded) {
    if (discarded > kLingerMaxBytes) {
      beast::error_code ignored;
      stream_.socket().close(ignored);
      return;
    }
    stream_.async_read_some(buffer_.prepare(kLingerChunk),
                            [self = this->shared_from_this(), discarded](beast::error_code ec, std::size_t n) {
                              if (ec) {
                                beast::error_code ignored;
                                self->stream_.socket().close(ignored);
                                return;
                              }
                              self->discard_until_closed(discarded + n);
                            });
  }

  Server::Impl& server_;
  Stream stream_;
  std::string remote_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  bool counted_ = false;  // this connection holds one in-flight count
};

}  // namespace

Status Server::Impl::start() {
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
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return make_error("invalid_configuration", "TXV_LISTEN: cannot listen on " + options_.host + ":" +
                                                   std::to_string(options_.port) + ": " + ec.message());
  }
  port_ = acceptor_.local_endpoint().port();
  accept();
  for (int i = 0; i < std::max(1, options_.threads); ++i) {
    io_threads_.emplace_back([this] { ioc_.run(); });
  }
  return Ok{};
}

void Server::Impl::accept() {
  acceptor_.async_accept(net::make_strand(ioc_), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec) {
      beast::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      auto remote = socket.remote_endpoint(ignored);
      std::string remote_text = ignored ? std::string() : remote.address().to_string();
      if (tls_) {
        std::make_shared<Session<ssl::stream<beast::tcp_stream>>>(
            *this, ssl::stream<beast::tcp_stream>(beast::tcp_stream(std::move(socket)), *tls_), remote_text)
            ->start();
      } else {
        std::make_shared<Session<beast::tcp_stream>>(*this, beast::tcp_stream(std::move(socket)), remote_text)->start();
      }
    }
    accept();
  });
}

Server::Server(ServerOptions options, DispatchFn dispatch, TransportErrorFn transport_error)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(dispatch), std::move(transport_error))) {}
Server::~Server() { impl_->stop(); }
Status Server::start() { return impl_->start(); }
unsigned short Server::bound_port() const { return impl_->port_; }
void Server::stop_accepting() { impl_->stop_accepting(); }
bool Server::wait_idle(std::chrono::steady_clock::time_point deadline) { return impl_->wait_idle(deadline); }
void Server::stop() { impl_->stop(); }

}  // namespace txv::http
