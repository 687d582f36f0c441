#include "decide/rule_catalog.h"

#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <future>
#include <set>

namespace txv::decide {

namespace {
constexpr const char* kChangesKey = "changes";
}  // namespace

struct RuleCatalog::Loop {
  explicit Loop(Executor where) : executor(where), timer(where) {}
  Executor executor;
  asio::steady_timer timer;  // touched only on `executor`
  bool stopped = false;      // touched only on `executor`
  bool notified = false;     // an announcement came during a refresh; touched only on `executor`
  std::promise<void> done;
};

RuleCatalog::RuleCatalog(RuleCatalogOptions options, store::RuleStore& rules, store::ListStore& lists,
                         RuleEngine& engine)
    : options_(std::move(options)), rules_(rules), lists_(lists), engine_(engine) {}

RuleCatalog::~RuleCatalog() { stop(); }

Task<AsyncKeyLock::Guard> RuleCatalog::lock_changes() {
  auto guard = co_await changes_.lock(kChangesKey);
  (void)co_await refresh_lists_locked();
  co_return guard;
}

Task<Status> RuleCatalog::load_all() {
  auto guard = co_await changes_.lock(kChangesKey);
  if (auto s = co_await refresh_lists_locked(); !s.ok()) co_return s;
  co_return co_await reload_rules_locked();
}

Task<Status> RuleCatalog::reload_rules_locked() {
  // The version first: a change landing between the two reads is then seen
  // again by the next refresh rather than hidden behind a newer version.
  auto version = co_await rules_.rules_version();
  if (!version.ok()) co_return Error(version.error());
  auto all = co_await rules_.list_rules();
  if (!all.ok()) co_return Error(all.error());
  // Completes once the new set is live (after any velocity backfill, built off the request path).
  (void)co_await engine_.replace_rules(std::move(*all), *version);
  co_return Ok{};
}

Task<Status> RuleCatalog::rules_changed_locked() {
  auto s = co_await reload_rules_locked();
  if (s.ok() && options_.announce) options_.announce();
  co_return s;
}

Task<void> RuleCatalog::list_changed_locked(const store::ListSummary& summary,
                                            std::shared_ptr<const ListEntries> entries) {
  const std::int64_t before = applied_lists_version_.load();
  engine_.set_list(summary.name, std::move(entries));
  auto version = co_await lists_.lists_version();
  if (version.ok() && before >= 0 && *version == before + 1) {
    applied_lists_[summary.name] = summary;
    applied_lists_version_.store(*version);
  } else {
    applied_lists_.erase(summary.name);  // not sure it is only ours: re-read by the next refresh
  }
  if (options_.announce) options_.announce();
}

Task<Status> RuleCatalog::refresh_lists_locked() {
  auto version = co_await lists_.lists_version();
  if (!version.ok()) co_return Error(version.error());
  if (*version == applied_lists_version_.load()) co_return Ok{};
  auto all = co_await lists_.list_lists();
  if (!all.ok()) co_return Error(all.error());
  std::set<std::string> present;
  for (const auto& summary : *all) {
    present.insert(summary.name);
    auto applied = applied_lists_.find(summary.name);
    if (applied != applied_lists_.end() && applied->second == summary) continue;
    auto entries = co_await lists_.list_entries(summary.name);
    if (!entries.ok()) co_return Error(entries.error());
    if (!entries->has_value()) continue;  // removed since list_lists(): the next refresh sees it gone
    auto set = co_await run_on(options_.admin, [&entries] {
      return std::shared_ptr<const ListEntries>(std::make_shared<ListEntries>((*entries)->begin(), (*entries)->end()));
    });
    engine_.set_list(summary.name, std::move(set));
    applied_lists_[summary.name] = summary;
  }
  for (auto it = applied_lists_.begin(); it != applied_lists_.end();) {
    if (present.count(it->first) != 0) {
      ++it;
      continue;
    }
    engine_.set_list(it->first, nullptr);
    it = applied_lists_.erase(it);
  }
  applied_lists_version_.store(*version);
  co_return Ok{};
}

Task<Status> RuleCatalog::refresh() {
  auto guard = co_await changes_.lock(kChangesKey);
  Status outcome = co_await refresh_lists_locked();
  if (outcome.ok()) {
    auto version = co_await rules_.rules_version();
    if (!version.ok()) {
      outcome = Error(version.error());
    } else if (*version != engine_.rules_version()) {
      outcome = co_await reload_rules_locked();
    }
  }
  if (options_.on_refresh) options_.on_refresh(outcome);
  co_return outcome;
}

Task<void> RuleCatalog::poll_loop(std::shared_ptr<Loop> loop) {
  while (!loop->stopped) {
    if (!loop->notified) {
      loop->timer.expires_after(options_.poll_interval);
      boost::system::error_code ec;
      co_await loop->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (loop->stopped) break;
    }
    loop->notified = false;
    (void)co_await refresh();  // an error is reported through on_refresh and retried next round
  }
  loop->done.set_value();
}

void RuleCatalog::start(Executor where) {
  std::lock_guard lock(loop_mu_);
  if (loop_) return;
  loop_ = std::make_shared<Loop>(where);
  asio::co_spawn(where, poll_loop(loop_), asio::detached);
}

void RuleCatalog::notify() {
  std::lock_guard lock(loop_mu_);
  if (!loop_) return;
  // Cutting the wait short makes the loop refresh now; during a refresh, `notified` makes it refresh again right after.
  asio::post(loop_->executor, [loop = loop_] {
    loop->notified = true;
    loop->timer.cancel();
  });
}

void RuleCatalog::stop() {
  std::shared_ptr<Loop> loop;
  {
    std::lock_guard lock(loop_mu_);
    loop = std::move(loop_);
  }
  if (!loop) return;
  auto done = loop->done.get_future();
  asio::post(loop->executor, [loop] {
    loop->stopped = true;
    loop->timer.cancel();
  });
  done.wait();
}

}  // namespace txv::decide
