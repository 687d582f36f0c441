#include "http/dispatcher.h"

#include <cctype>
#include <chrono>
#include <exception>
#include <random>

#include "domain/card_text.h"
#include "logging/bug.h"
#include "logging/log.h"

namespace txv::http {
namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  if (start == std::chrono::steady_clock::time_point{}) return 0;
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void assign_request_id(Request& request) {
  if (!request.request_id.empty()) return;
  const std::string* client_id = request.header("x-request-id");
  request.request_id = client_id && acceptable_request_id(*client_id) ? *client_id : generate_request_id();
}

bool is_json_media_type(const std::string* content_type) {
  if (!content_type) return false;
  std::string_view media(*content_type);
  media = media.substr(0, media.find(';'));
  while (!media.empty() && (media.back() == ' ' || media.back() == '\t')) media.remove_suffix(1);
  while (!media.empty() && (media.front() == ' ' || media.front() == '\t')) media.remove_prefix(1);
  static constexpr std::string_view kJson = "application/json";
  if (media.size() != kJson.size()) return false;
  for (std::size_t i = 0; i < media.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(media[i])) != kJson[i]) return false;
  }
  return true;
}

}  // namespace

std::string generate_request_id() {
  // 24 characters from a 32-letter alphabet with only 8 digits, so a generated
  // id never carries a long digit run (it is logged and echoed).
  static constexpr char kAlphabet[] = "abcdefghijkmnpqrstuvwxyz23456789";
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string id(24, 'a');
  std::uint64_t a = rng(), b = rng();
  for (int i = 0; i < 12; ++i) id[i] = kAlphabet[(a >> (i * 5)) & 31];
  for (int i = 0; i < 12; ++i) id[12 + i] = kAlphabet[(b >> (i * 5)) & 31];
  return id;
}

bool acceptable_request_id(const std::string& id) {
  if (id.empty() || id.size() > 128) return false;
  for (unsigned char c : id) {
    if (!std::isalnum(c) && c != '.' && c != '_' && c != ':' && c != '-') return false;
  }
  // Logged and echoed: a card number sent as a request id must not be.
  return !domain::looks_like_card_number(id);
}

std::string format_byte_size(std::size_t bytes) {
  constexpr std::size_t kKiB = 1024, kMiB = 1024 * 1024;
  if (bytes >= kMiB && bytes % kMiB == 0) return std::to_string(bytes / kMiB) + " MiB";
  if (bytes >= kKiB && bytes % kKiB == 0) return std::to_string(bytes / kKiB) + " KiB";
  return std::to_string(bytes) + " bytes";
}

Dispatcher::Dispatcher(const Router& router, metrics::Metrics& metrics, ErrorResponder errors, Admission admission)
    : router_(router),
      metrics_(metrics),
      errors_(std::move(errors)),
      admission_(std::move(admission)),
      unmatched_(&metrics.http_route("unmatched")) {
  route_metrics_.reserve(router.size());
  for (std::size_t i = 0; i < router.size(); ++i) route_metrics_.push_back(&metrics.http_route(router.route(i)));
}

metrics::Metrics::HttpRoute& Dispatcher::route_metrics(const Request& request) const {
  if (request.route_index == Request::kNoRoute) return *unmatched_;
  if (request.route_index < route_metrics_.size()) return *route_metrics_[request.route_index];
  return metrics_.http_route(router_.route(request.route_index));  // a route added after construction
}

void Dispatcher::finish(Request& request, Response& response) const {
  assign_request_id(request);
  response.headers.emplace_back("X-Request-Id", request.request_id);
  double seconds = seconds_since(request.received_at);
  metrics_.observe_http_request(route_metrics(request), request.method, response.status, seconds);
  auto level = response.status >= 500 ? logging::Level::kError : logging::Level::kInfo;
  if (logging::enabled(level)) {
    logging::write(level, "request",
                   {{"request_id", request.request_id},
                    {"method", metrics::method_label(request.method)},
                    {"route", request.route_index == Request::kNoRoute ? std::string_view("unmatched")
                                                                       : std::string_view(request.route)},
                    {"status", static_cast<long long>(response.status)},
                    {"duration_ms", seconds * 1000.0},
                    {"remote", request.remote_address}});
  }
}

Response Dispatcher::error(Request& request, int status, Error e) const {
  Response response = errors_(status, e);
  finish(request, response);
  return response;
}

Task<HeaderVerdict> Dispatcher::on_headers(Request& request) const {
  if (request.received_at == std::chrono::steady_clock::time_point{}) {
    request.received_at = std::chrono::steady_clock::now();
  }
  assign_request_id(request);
  auto match = router_.match(request);
  if (match.kind == Router::MatchKind::kNotFound) {
    request.route_index = Request::kNoRoute;
    co_return HeaderVerdict{error(request, 404, make_error("not_found", "no such endpoint")), 0};
  }
  if (match.kind == Router::MatchKind::kMethodNotAllowed) {
    request.route_index = Request::kNoRoute;
    Response r = errors_(405, make_error("method_not_allowed", "method not allowed on this endpoint"));
    r.headers.emplace_back("Allow", match.allow);
    finish(request, r);
    co_return HeaderVerdict{std::move(r), 0};
  }
  request.route_index = match.index;
  const RouteOptions& options = *match.options;
  if (options.access != 0 && admission_) {
    std::optional<Response> denied;
    bool failed = false;
    try {
      denied = co_await admission_(request, options);
    } catch (const std::exception& e) {
      failed = true;
      metrics_.count_unhandled_exception();
      logging::error("unhandled exception in admission", {{"request_id", request.request_id}, {"what", e.what()}});
    } catch (...) {
      failed = true;
      metrics_.count_unhandled_exception();
      logging::error("unhandled exception in admission", {{"request_id", request.request_id}});
    }
    if (failed) co_return HeaderVerdict{error(request, 500, make_error("internal", "internal error")), 0};
    if (denied) {
      finish(request, *denied);
      co_return HeaderVerdict{std::move(denied), 0};
    }
  }
  co_return HeaderVerdict{std::nullopt, options.max_body_bytes};
}

Task<Response> Dispatcher::on_body(Request& request) const {
  if (TXV_BUG_IF(request.route_index == Request::kNoRoute || request.route_index >= router_.size(),
                 "Dispatcher::on_body for a request that on_headers answered")) {
    co_return error(request, 500, make_error("internal", "internal error"));
  }
  if (!request.body.empty() && !is_json_media_type(request.header("content-type"))) {
    co_return error(request, 415, make_error("unsupported_media_type", "request bodies must be application/json"));
  }
  const Handler& handler = router_.handler(request.route_index);
  std::optional<Response> response;
  try {
    response.emplace(co_await handler(request));
  } catch (const std::exception& e) {
    metrics_.count_unhandled_exception();
    logging::error("unhandled exception", {{"request_id", request.request_id}, {"what", e.what()}});
  } catch (...) {
    metrics_.count_unhandled_exception();
    logging::error("unhandled exception", {{"request_id", request.request_id}});
  }
  if (!response) co_return error(request, 500, make_error("internal", "internal error"));
  finish(request, *response);
  co_return std::move(*response);
}

Response Dispatcher::transport_error(int status, const Request& original, std::size_t limit,
                                     std::string_view reason) const {
  Request request;  // only what identifies the request: never its body
  request.method = original.method;
  request.headers = original.headers;
  request.request_id = original.request_id;
  request.remote_address = original.remote_address;
  request.route = original.route;
  request.route_index = original.route_index;
  request.received_at = original.received_at;
  Error e;
  if (status == 413) {
    e = make_error("payload_too_large", "request body exceeds " + format_byte_size(limit));
  } else if (status == 503) {
    e = make_error("unavailable", "the server is shutting down");
  } else {
    std::string message = "the HTTP request could not be parsed";
    if (!reason.empty()) message += std::string(": ") + std::string(reason);
    e = make_error("malformed_request", std::move(message));
  }
  return error(request, status, std::move(e));
}

}  // namespace txv::http
