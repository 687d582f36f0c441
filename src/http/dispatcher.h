// The middleware chain every request passes through, in two phases.
//
// On the headers, before any body byte is read (on_headers): request id
// (X-Request-Id accepted when sane and not card-number-like, else generated;
// echoed back) → routing (404 / 405) → admission (the hook: authentication,
// role, rate limit; 401/403/429/503) → the route's body limit. A request
// answered here is answered without its body being read.
//
// On the complete request (on_body): content type (415 for a body that is not
// JSON) → handler inside the one last-resort catch (500, counted) → metrics by
// route template and known method (never a label per path or per method
// string) → one JSON access-log line (never the body, never the query).
//
// Every answer (from either phase or from transport_error) is counted once in
// txv_http_requests_total and logged once; its duration runs from the headers.
//
// Thread-safety: every member is called concurrently; the router is immutable
// and complete before the Dispatcher is constructed.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include "common/async.h"
#include "common/result.h"
#include "http/message.h"
#include "http/router.h"
#include "metrics/metrics.h"

namespace txv::http {

// Renders an Error in the contract's error shape with the given status.
using ErrorResponder = std::function<Response(int status, const Error& error)>;

// Decides on the headers whether the request may go on (nullopt; it may set
// request.principal) or answers it (401/403/429/503). Called only for routes
// whose RouteOptions::access is non-zero; an empty Admission admits every request.
using Admission = std::function<Task<std::optional<Response>>(Request& request, const RouteOptions& route)>;

// What the transport does after the headers.
struct HeaderVerdict {
  // Set: send it and read no body. The connection is closed when the request
  // announced a body (Content-Length > 0 or chunked); a request without one
  // (GET → 401, 404, 405) keeps its keep-alive connection.
  std::optional<Response> answer;
  std::size_t max_body_bytes = 0;  // otherwise: read a body of at most this many bytes (413 beyond)
};

class Dispatcher {
 public:
  Dispatcher(const Router& router, metrics::Metrics& metrics, ErrorResponder errors, Admission admission);
  // Phase one: `request` has method, path, query, headers, remote_address.
  Task<HeaderVerdict> on_headers(Request& request) const;
  // Phase two: the body was read within the verdict's limit.
  Task<Response> on_body(Request& request) const;
  // For answers produced by the transport itself: 400 (malformed or
  // ambiguous framing; `reason` says what, in the message), 413 (body over
  // `limit` bytes: "request body exceeds 1 MiB"), 503 (shutting down).
  // `request` holds whatever was parsed (possibly nothing).
  Response transport_error(int status, const Request& request, std::size_t limit, std::string_view reason = {}) const;

  metrics::Metrics& metrics() const { return metrics_; }

 private:
  // X-Request-Id, metrics and the access-log line of a finished request.
  void finish(Request& request, Response& response) const;
  Response error(Request& request, int status, Error e) const;
  metrics::Metrics::HttpRoute& route_metrics(const Request& request) const;

  const Router& router_;
  metrics::Metrics& metrics_;
  ErrorResponder errors_;
  Admission admission_;
  std::vector<metrics::Metrics::HttpRoute*> route_metrics_;  // by router index
  metrics::Metrics::HttpRoute* unmatched_;
};

std::string generate_request_id();
// A client-supplied id is used when it is 1..128 chars of [A-Za-z0-9._:-] and
// does not look like a card number (domain::looks_like_card_number).
bool acceptable_request_id(const std::string& id);
// "64 KiB", "1 MiB", "128 MiB", "1000 bytes": a body limit as the 413 message says it.
std::string format_byte_size(std::size_t bytes);

}  // namespace txv::http
