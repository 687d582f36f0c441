// The decision pipeline: idempotency → card checks → rules → outcome → durable
// record. Plain logic over interfaces; no HTTP and no JSON here.
//
// Asynchronous end to end (common/async.h): decide() is a Task; it awaits the
// idempotency key lock, the store and the counters, and never blocks a thread
// nor holds a thread-tied lock across a suspension point.
//
// Idempotency: the key is (merchant_id, transaction_id); request_hash is the
// keyed HMAC digest of the canonical request JSON made by
// Fingerprinter::request_digest (keyed because the body holds the card
// number). Concurrent requests with one key are serialised in-process by an
// asynchronous key lock (one decides, the others wait suspended, then replay),
// and the store's unique key settles races between processes.
//
// Velocity: the rules stage counts the decision before it is stored; the
// reservation is committed once the insert succeeded and released (the event
// uncounted) when the decision was not stored (store error, or another
// process stored this key first).
//
// Errors: "idempotency_conflict" (same key, different body), "unavailable"
// (store down), "internal".
// Thread-safety: decide() is called concurrently from many threads.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "common/async.h"
#include "common/async_key_lock.h"
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
  // Told the outcome of every attempt to store a decision (readiness follows
  // the last writes: ok, or the store's Error). Optional; called on the
  // deciding thread, so it must be cheap and thread-safe.
  std::function<void(const Status&)> on_store_write;
};

class DecisionPipeline {
 public:
  DecisionPipeline(DecisionPipelineOptions options, store::TransactionStore& store, const Fingerprinter& fingerprinter,
                   RulesStage& rules);

  // `request` and `request_hash` must live until the Task completes (callers co_await at once).
  Task<Result<Decided>> decide(const domain::TransactionRequest& request, const std::string& request_hash);

  // Card summary and built-in check reasons, exposed for tests.
  domain::CardSummary summarise_card(const domain::CardInput& card) const;
  static std::vector<domain::Reason> run_checks(const domain::CardInput& card, domain::TimePoint occurred_at);

 private:
  Task<Result<Decided>> decide_new(const domain::TransactionRequest& request, const std::string& request_hash);
  static Result<Decided> replay_or_conflict(domain::DecisionRecord stored, const std::string& request_hash);

  // In-flight keys: a second request with the same key waits (suspended) for the first.
  AsyncKeyLock inflight_;

  DecisionPipelineOptions options_;
  store::TransactionStore& store_;
  const Fingerprinter& fingerprinter_;
  RulesStage& rules_;
};

// Outcome of section 3: failed check → decline; enforced approve rule →
// approve; decline rule → decline; review rule → review; else approve.
domain::Decision combine(const std::vector<domain::Reason>& reasons);
// The same rule over what the reasons say: a failed check, and whether an enforced approve, decline or review rule
// matched.
domain::Decision combine(bool failed_check, bool approve, bool decline, bool review);

}  // namespace txv::decide
