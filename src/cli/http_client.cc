#include "cli/http_client.h"

#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>

namespace txv::cli {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

Error unreachable(const std::string& what, const boost::system::error_code& ec) {
  return make_error("unavailable", what + ": " + ec.message());
}

class BeastClient final : public HttpClient {
 public:
  BeastClient(bool tls, std::string host, std::string port, std::string prefix, std::chrono::seconds timeout)
      : tls_(tls), host_(std::move(host)), port_(std::move(port)), prefix_(std::move(prefix)), timeout_(timeout) {}

  Result<HttpAnswer> post_json(const std::string& path, const std::string& body, const std::string& key) override {
    return send("POST", path, body, key, "");
  }

  Result<HttpAnswer> send(const std::string& method, const std::string& path, const std::string& body,
                          const std::string& key, const std::string& if_match) override {
    const bhttp::verb verb = bhttp::string_to_verb(method);
    if (verb == bhttp::verb::unknown) return make_error("usage", "unknown HTTP method " + method);
    asio::io_context io;
    boost::system::error_code ec;
    tcp::resolver resolver(io);
    auto endpoints = resolver.resolve(host_, port_, ec);
    if (ec) return unreachable("cannot resolve " + host_, ec);

    bhttp::request<bhttp::string_body> req{verb, prefix_ + path, 11};
    req.set(bhttp::field::host, host_);
    req.set(bhttp::field::user_agent, "txv-cli");
    if (!body.empty() || verb == bhttp::verb::post || verb == bhttp::verb::put) {
      req.set(bhttp::field::content_type, "application/json");
    }
    if (!if_match.empty()) req.set(bhttp::field::if_match, if_match);
    req.set(bhttp::field::authorization, "Bearer " + key);
    req.set(bhttp::field::connection, "close");
    req.body() = body;
    req.prepare_payload();

    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(64u * 1024 * 1024);
    beast::flat_buffer buffer;
    if (!tls_) {
      beast::tcp_stream stream(io);
      stream.expires_after(timeout_);
      stream.connect(endpoints, ec);
      if (ec) return unreachable("cannot connect to " + host_ + ":" + port_, ec);
      stream.expires_after(timeout_);
      bhttp::write(stream, req, ec);
      if (ec) return unreachable("sending the request", ec);
      bhttp::read(stream, buffer, parser, ec);
      if (ec) return unreachable("reading the answer", ec);
      stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    } else {
      asio::ssl::context ctx(asio::ssl::context::tls_client);
      ctx.set_options(asio::ssl::context::no_sslv2 | asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                      asio::ssl::context::no_tlsv1_1);
      ctx.set_default_verify_paths(ec);
      if (ec) return unreachable("loading the system's CA certificates", ec);
      ctx.set_verify_mode(asio::ssl::verify_peer);
      beast::ssl_stream<beast::tcp_stream> stream(io, ctx);
      if (!SSL_set_tlsext_host_name(stream.native_handle(), host_.c_str())) {
        return make_error("unavailable", "cannot set the TLS server name");
      }
      stream.set_verify_callback(asio::ssl::host_name_verification(host_));
      beast::get_lowest_layer(stream).expires_after(timeout_);
      beast::get_lowest_layer(stream).connect(endpoints, ec);
      if (ec) return unreachable("cannot connect to " + host_ + ":" + port_, ec);
      stream.handshake(asio::ssl::stream_base::client, ec);
      if (ec) return unreachable("TLS handshake with " + host_, ec);
      beast::get_lowest_layer(stream).expires_after(timeout_);
      bhttp::write(stream, req, ec);
      if (ec) return unreachable("sending the request", ec);
      bhttp::read(stream, buffer, parser, ec);
      if (ec) return unreachable("reading the answer", ec);
      stream.shutdown(ec);  // the server may close without a TLS close_notify
    }
    HttpAnswer answer;
    answer.status = static_cast<int>(parser.get().result_int());
    answer.body = std::move(parser.get().body());
    return answer;
  }

 private:
  bool tls_;
  std::string host_;
  std::string port_;
  std::string prefix_;
  std::chrono::seconds timeout_;
};

}  // namespace

Result<std::unique_ptr<HttpClient>> HttpClient::create(const std::string& base_url, std::chrono::seconds timeout) {
  auto u = boost::urls::parse_uri(base_url);
  if (!u) return make_error("usage", "--url: not a URL (expected http://host:port or https://host:port)");
  const std::string scheme(u->scheme());
  if (scheme != "http" && scheme != "https") return make_error("usage", "--url: the scheme must be http or https");
  if (!u->has_authority() || u->encoded_host().empty()) return make_error("usage", "--url: a host is required");
  if (u->has_userinfo() || u->has_query() || u->has_fragment()) {
    return make_error("usage", "--url: only scheme, host, port and a path prefix are allowed");
  }
  std::string host(u->encoded_host());
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  std::string port = u->has_port() ? std::string(u->port()) : (scheme == "https" ? "443" : "80");
  std::string prefix(u->encoded_path());
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  return std::unique_ptr<HttpClient>(
      std::make_unique<BeastClient>(scheme == "https", std::move(host), std::move(port), std::move(prefix), timeout));
}

}  // namespace txv::cli
