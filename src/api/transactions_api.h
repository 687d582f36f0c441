// Handlers of contract sections 3, 4 and 9: validate, validate-batch, read one
// (with its current label), list (label filter), review resolution, and the
// label routes (labels_api.h). Request/response mapping only; the decision
// logic is decide::DecisionPipeline.
#pragma once

#include <boost/json.hpp>

#include "api/access.h"
#include "api/labels_api.h"
#include "decide/fingerprint.h"
#include "decide/pipeline.h"
#include "http/router.h"
#include "metrics/metrics.h"
#include "store/stores.h"

namespace txv::api {

class TransactionsApi {
 public:
  TransactionsApi(decide::DecisionPipeline& pipeline, store::TransactionStore& store, store::LabelStore& labels,
                  store::TraceLayoutStore& trace_layouts, const decide::Fingerprinter& fingerprinter,
                  metrics::Metrics& metrics);
  // Every store from one back-end.
  TransactionsApi(decide::DecisionPipeline& pipeline, store::Database& db, const decide::Fingerprinter& fingerprinter,
                  metrics::Metrics& metrics)
      : TransactionsApi(pipeline, db, db, db, fingerprinter, metrics) {}

  void register_routes(http::Router& router);

  Task<http::Response> validate(http::Request& request);
  Task<http::Response> validate_batch(http::Request& request);
  Task<http::Response> get_one(http::Request& request);
  Task<http::Response> list(http::Request& request);
  Task<http::Response> resolve(http::Request& request);

  // Body limits (contract section 2).
  static constexpr std::size_t kMaxValidateBody = 64 * 1024;
  static constexpr std::size_t kMaxBatchBody = 1024 * 1024;

 private:
  // One item: the decision JSON or an Error.
  Task<Result<boost::json::object>> decide_one(const Principal& principal, const boost::json::value& body,
                                               std::string_view field_prefix);

  decide::DecisionPipeline& pipeline_;
  store::TraceLayoutStore& trace_layouts_;
  store::TransactionStore& store_;
  LabelsApi labels_;
  const decide::Fingerprinter& fingerprinter_;
  metrics::Metrics& metrics_;
};

// Opaque paging cursors ("c" + base-36 of the position); nullopt when malformed.
std::string encode_cursor(std::int64_t position);
std::optional<std::int64_t> decode_cursor(std::string_view cursor);

// A listing's `limit` query parameter: an integer 1..500; nullopt otherwise.
std::optional<int> parse_page_limit(const std::string& value);

// A listing's `min_amount` / `max_amount`: a decimal integer 0..10^15 (minor
// units; no sign, no spaces); nullopt otherwise.
std::optional<std::int64_t> parse_amount_filter(const std::string& value);

// Parses "a=1&b=2" (percent-decoded); repeated keys keep the last value.
std::map<std::string, std::string> parse_query(const std::string& query);

}  // namespace txv::api
