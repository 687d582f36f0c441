// The decision pipeline: idempotency → card checks → rules → outcome → durable
// record. Plain logic over interfaces; no HTTP and no JSON here.
//
// Idempotency: the key is (merchant_id, transaction_id); request_hash is the
// SHA-256 of the canonical request JSON. Concurrent requests with one key are
// serialised in-process (one decides, the others wait and replay), and the
// store's unique key settles races between processes.
//
// Errors: "idempotency_conflict" (same key, different body), "unavailable"
// (store down), "internal".
// Thread-safety: decide() is called concurrently from many threads.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>

#include "common/result.h"
#include "decide/fingerprint.h"
#include "decide/rules_stage.h"
#include "domain/transaction.h"
#include "store/stores.h"

namespace txv::decide {

struct Decided {
  domain::DecisionRecord record;
  bool replayed = false;
};

struct DecisionPipelineOptions {
  std::function<domain::TimePoint()> now;  // defaults to the system clock (ms)
};

class DecisionPipeline {
 public:
  DecisionPipeline(DecisionPipelineOptions options, store::TransactionStore& store, const Fingerprinter& fingerprinter,
                   RulesStage& rules);

  Result<Decided> decide(const domain::TransactionRequest& request, const std::string& request_hash);

  // Card summary and built-in check reasons, exposed for tests.
  domain::CardSummary summarise_card(const domain::CardInput& card) const;
  static std::vector<domain::Reason> run_checks(const domain::CardInput& card, domain::TimePoint occurred_at);

 private:
  Result<Decided> decide_new(const domain::TransactionRequest& request, const std::string& request_hash);
  static Result<Decided> replay_or_conflict(domain::DecisionRecord stored, const std::string& request_hash);

  // In-flight keys: a second request with the same key waits for the first.
  class KeyLock;
  std::mutex inflight_mu_;
  std::condition_variable inflight_cv_;
  std::unordered_map<std::string, int> inflight_;

  DecisionPipelineOptions options_;
  store::TransactionStore& store_;
  const Fingerprinter& fingerprinter_;
  RulesStage& rules_;
};

// Outcome of section 3: failed check → decline; enforced approve rule →
// approve; decline rule → decline; review rule → review; else approve.
domain::Decision combine(const std::vector<domain::Reason>& reasons);

}  // namespace txv::decide
