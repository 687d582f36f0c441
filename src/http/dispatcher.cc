#include "http/dispatcher.h"

#include <chrono>
#include <random>

#include "logging/log.h"

namespace txv::http {

std::string generate_request_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(24, '0');
  std::uint64_t a = rng(), b = rng();
  for (int i = 0; i < 16; ++i) id[i] = kHex[(a >> (i * 4)) & 0xF];
  for (int i = 0; i < 8; ++i) id[16 + i] = kHex[(b >> (i * 4)) & 0xF];
  return id;
}

bool acceptable_request_id(const std::string& id) {
  if (id.empty() || id.size() > 128) return false;
  for (unsigned char c : id) {
    if (!std::isalnum(c) && c != '.' && c != '_' && c != ':' && c != '-') return false;
  }
  return true;
}

Dispatcher::Dispatcher(const Router& router, metrics::Metrics& metrics, ErrorResponder errors)
    : router_(router), metrics_(metrics), errors_(std::move(errors)) {}

Response Dispatcher::handle(Request& request) const {
  auto match = router_.match(request);
  if (match.kind == Router::MatchKind::kNotFound) {
    request.route = "unmatched";
    return errors_(404, make_error("not_found", "no such endpoint"));
  }
  if (match.kind == Router::MatchKind::kMethodNotAllowed) {
    request.route = "unmatched";
    Response r = errors_(405, make_error("method_not_allowed", "method not allowed on this endpoint"));
    r.headers.emplace_back("Allow", match.allow);
    return r;
  }
  if (!request.body.empty()) {
    const std::string* ct = request.header("content-type");
    std::string media = ct ? ct->substr(0, ct->find(';')) : "";
    while (!media.empty() && media.back() == ' ') media.pop_back();
    for (auto& c : media) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (media != "application/json") {
      return errors_(415, make_error("unsupported_media_type", "request bodies must be application/json"));
    }
  }
  try {
    return (*match.handler)(request);
  } catch (const std::exception& e) {
    metrics_.count_unhandled_exception();
    logging::error("unhandled exception", {{"request_id", request.request_id}, {"what", e.what()}});
  } catch (...) {
    metrics_.count_unhandled_exception();
    logging::error("unhandled exception", {{"request_id", request.request_id}});
  }
  return errors_(500, make_error("internal", "internal error"));
}

Response Dispatcher::operator()(Request& request) const {
  auto started = std::chrono::steady_clock::now();
  const std::string* client_id = request.header("x-request-id");
  request.request_id = client_id && acceptable_request_id(*client_id) ? *client_id : generate_request_id();

  Response response = handle(request);
  response.headers.emplace_back("X-Request-Id", request.request_id);

  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  metrics_.observe_http_request(request.route, request.method, response.status, seconds);
  if (logging::enabled(response.status >= 500 ? logging::Level::kError : logging::Level::kInfo)) {
    logging::write(response.status >= 500 ? logging::Level::kError : logging::Level::kInfo, "request",
                   {{"request_id", request.request_id},
                    {"method", request.method},
                    {"route", request.route},
                    {"status", static_cast<long long>(response.status)},
                    {"duration_ms", seconds * 1000.0},
                    {"remote", request.remote_address}});
  }
  return response;
}

Response Dispatcher::transport_error(int status, const std::string& remote_address) const {
  Request request;
  request.request_id = generate_request_id();
  request.route = "unmatched";
  request.remote_address = remote_address;
  Error error = status == 413 ? make_error("payload_too_large", "request body exceeds 64 KiB")
                              : make_error("malformed_request", "the HTTP request could not be parsed");
  Response response = errors_(status, error);
  response.headers.emplace_back("X-Request-Id", request.request_id);
  metrics_.observe_http_request(request.route, "", status, 0);
  logging::info(
      "request",
      {{"request_id", request.request_id}, {"status", static_cast<long long>(status)}, {"remote", remote_address}});
  return response;
}

}  // namespace txv::http
