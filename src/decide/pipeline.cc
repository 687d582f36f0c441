#include "decide/pipeline.h"

#include <algorithm>

#include "domain/card.h"
#include "domain/time.h"

namespace txv::decide {

using domain::Decision;
using domain::Reason;
using domain::RuleAction;

DecisionPipeline::DecisionPipeline(DecisionPipelineOptions options, store::TransactionStore& store,
                                   const Fingerprinter& fingerprinter, RulesStage& rules)
    : options_(std::move(options)), store_(store), fingerprinter_(fingerprinter), rules_(rules) {
  if (!options_.now) options_.now = domain::now_millis;
}

Decision combine(const std::vector<Reason>& reasons) {
  bool any_check = false, approve = false, decline = false, review = false;
  for (const auto& r : reasons) {
    if (r.source == "check") any_check = true;
    if (r.source != "rule") continue;
    approve |= r.action == RuleAction::kApprove;
    decline |= r.action == RuleAction::kDecline;
    review |= r.action == RuleAction::kReview;
  }
  return combine(any_check, approve, decline, review);
}

Decision combine(bool failed_check, bool approve, bool decline, bool review) {
  if (failed_check) return Decision::kDecline;
  if (approve) return Decision::kApprove;
  if (decline) return Decision::kDecline;
  if (review) return Decision::kReview;
  return Decision::kApprove;
}

domain::CardSummary DecisionPipeline::summarise_card(const domain::CardInput& card) const {
  domain::CardSummary s;
  if (card.number) {
    const std::string& n = *card.number;
    auto check = domain::card_number_check(n);
    s.brand = check.brand ? domain::to_string(*check.brand) : "";
    s.bin = std::string(domain::card_bin(n));
    s.last4 = std::string(domain::card_last4(n));
    s.fingerprint = fingerprinter_.card_number(n);
  } else if (card.token) {
    s.brand = card.brand.value_or("");
    s.bin = card.bin ? card.bin->substr(0, 6) : "";
    s.last4 = card.last4.value_or("");
    s.fingerprint = fingerprinter_.token(*card.token);
  }
  return s;
}

std::vector<Reason> DecisionPipeline::run_checks(const domain::CardInput& card, domain::TimePoint occurred_at) {
  std::vector<Reason> reasons;
  if (!card.number) return reasons;  // a token was checked by the vault that issued it
  if (!domain::card_number_check(*card.number).valid) {
    reasons.push_back(Reason{"invalid_card_number", "check", "", RuleAction::kDecline});
  }
  if (card.expiry_month && card.expiry_year &&
      domain::card_expired(*card.expiry_month, *card.expiry_year, occurred_at)) {
    reasons.push_back(Reason{"card_expired", "check", "", RuleAction::kDecline});
  }
  return reasons;
}

Result<Decided> DecisionPipeline::replay_or_conflict(domain::DecisionRecord stored, const std::string& request_hash) {
  if (stored.request_hash != request_hash) {
    return make_error("idempotency_conflict",
                      "a different request was already decided with this merchant_id and transaction_id");
  }
  return Decided{std::move(stored), true};
}

Task<Result<Decided>> DecisionPipeline::decide(const domain::TransactionRequest& request,
                                               const std::string& request_hash) {
  std::string key = request.merchant_id;
  key.push_back('\0');
  key += request.transaction_id;
  AsyncKeyLock::Guard lock = co_await inflight_.lock(std::move(key));

  auto existing = co_await store_.find_decision(request.merchant_id, request.transaction_id);
  if (!existing.ok()) co_return Error(existing.error());
  if (existing->has_value()) co_return replay_or_conflict(std::move(**existing), request_hash);
  co_return co_await decide_new(request, request_hash);
}

Task<Result<Decided>> DecisionPipeline::decide_new(const domain::TransactionRequest& request,
                                                   const std::string& request_hash) {
  domain::TimePoint decided_at = options_.now();
  domain::TimePoint occurred_at = request.occurred_at.value_or(decided_at);

  domain::DecisionRecord record;
  record.merchant_id = request.merchant_id;
  record.transaction_id = request.transaction_id;
  record.request_hash = request_hash;
  record.type = request.type;
  record.amount = request.amount;
  record.currency = request.currency;
  record.card = summarise_card(request.card);
  record.has_customer = request.has_customer;
  record.customer = request.customer;
  record.has_merchant = request.has_merchant;
  record.merchant = request.merchant;
  record.metadata = request.metadata;
  record.occurred_at = occurred_at;
  record.decided_at = decided_at;
  record.reasons = run_checks(request.card, occurred_at);

  auto verdict = co_await rules_.evaluate(DecisionInput{request, record.card, decided_at});
  if (!verdict.ok()) co_return Error(verdict.error());
  record.rules_version = verdict->rules_version;
  record.trace = std::move(verdict->trace);
  for (const auto& m : verdict->matches) {
    if (m.shadow) {
      record.shadow_matches.push_back(domain::ShadowMatch{m.rule_id, m.action, m.code});
    } else {
      record.reasons.push_back(Reason{m.code, "rule", m.rule_id, m.action});
    }
  }
  record.decision = combine(record.reasons);

  auto inserted = co_await store_.insert_decision(record);
  if (options_.on_store_write) options_.on_store_write(inserted.ok() ? Status(Ok{}) : Status(inserted.error()));
  std::unique_ptr<Reservation> reservation = std::move(verdict->reservation);
  if (!inserted.ok() || !inserted->inserted) {
    // Not stored by us: uncount it. (A release that fails leaves one extra event counted; the store's answer
    // below is still the right one for this request.)
    if (reservation) (void)co_await reservation->release();
    if (!inserted.ok()) co_return Error(inserted.error());
    // Another process decided this key first.
    co_return replay_or_conflict(std::move(inserted->record), request_hash);
  }
  if (reservation) reservation->commit();
  co_return Decided{std::move(inserted->record), false};
}

}  // namespace txv::decide
