// The middleware chain every request passes through, in order:
// request id (X-Request-Id accepted when sane, else generated; echoed back) →
// routing (404 / 405) → content type (415 for a body that is not JSON) →
// handler inside the one last-resort catch (500, counted) → metrics by route
// template → one JSON access-log line (never the body, never the query).
//
// Thread-safety: operator() is called concurrently; the router is immutable.
#pragma once

#include <functional>

#include "common/result.h"
#include "http/message.h"
#include "http/router.h"
#include "metrics/metrics.h"

namespace txv::http {

// Renders an Error in the contract's error shape with the given status.
using ErrorResponder = std::function<Response(int status, const Error& error)>;

class Dispatcher {
 public:
  Dispatcher(const Router& router, metrics::Metrics& metrics, ErrorResponder errors);
  Response operator()(Request& request) const;
  // For answers produced before routing (413/400 from the transport).
  Response transport_error(int status, const std::string& remote_address) const;

 private:
  Response handle(Request& request) const;
  const Router& router_;
  metrics::Metrics& metrics_;
  ErrorResponder errors_;
};

std::string generate_request_id();
// A client-supplied id is used when it is 1..128 chars of [A-Za-z0-9._:-].
bool acceptable_request_id(const std::string& id);

}  // namespace txv::http
