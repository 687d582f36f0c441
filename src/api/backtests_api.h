// Handlers of contract section 11: backtests of a proposed rule set over the
// stored decisions, as jobs (decide::BacktestJobs runs them off the request
// path, at the lowest CPU priority).
//
// POST /v1/backtests builds the proposed set from the live one (read from the
// store, so it is what every replica decides with): the body's rules replace
// the live rules they name by id, new ones (no id) are added, and the other
// live rules stay unless "replace_all" is true. Keys scoped to a merchant
// backtest that merchant only, and see only its jobs.
//
// Jobs are read from the database (BacktestJobs::get/list), so any replica
// answers for any job, and DELETE cancels a job whichever replica runs it.
#pragma once

#include "decide/backtest_jobs.h"
#include "http/router.h"
#include "store/stores.h"

namespace txv::api {

class BacktestsApi {
 public:
  BacktestsApi(store::RuleStore& rules, decide::BacktestJobs& jobs);
  void register_routes(http::Router& router);

  Task<http::Response> start(http::Request& request);
  Task<http::Response> get(http::Request& request);
  Task<http::Response> list(http::Request& request);
  Task<http::Response> cancel(http::Request& request);

  static constexpr std::size_t kMaxRules = 1000;
  static constexpr std::size_t kMaxBody = 8 * 1024 * 1024;  // kMaxRules rules with long expressions
  // The longest [since, until) a backtest may cover.
  static constexpr std::chrono::hours kMaxRange{24 * 366};
  // GET /v1/backtests: the newest this many jobs (of every replica), newest first.
  static constexpr int kListLimit = 100;

 private:
  store::RuleStore& rules_;
  decide::BacktestJobs& jobs_;
};

}  // namespace txv::api
