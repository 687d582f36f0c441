// RuleCatalog: keeps the RuleEngine's rules and named lists equal to the
// stored ones, whichever replica changed them (contract sections 5 and 6:
// "every replica decides with the new rules within 1 second").
//
// Two ways a change arrives:
//   * through this replica: the admin handler writes it to the store while
//     holding the catalog's change lock, then hands the result here
//     (rules_changed_locked(), list_changed_locked()); it is live in this
//     replica's decisions before the 2xx is sent, and announced to the others
//     with the `announce` callback (Redis pub/sub in replica mode);
//   * through another replica: refresh() compares the stored rules_version and
//     lists_version with what was applied and re-reads what moved. It runs
//     every poll_interval (the fallback that needs nothing but the database)
//     and at once when notify() is called (an announcement arrived).
// Lists are re-read only when their summary (entry count, updated_at) differs
// from the one applied; compiling rules and building list sets runs on the
// admin executor, never on an I/O thread, and the engine swaps them in as
// snapshots: decisions never wait for a reload.
//
// All changes and refreshes are serialised by one asynchronous lock (no
// thread parks), so a refresh never applies an older list over a newer one
// that this replica just stored.
//
// Thread-safety: every member may be called from any thread. Lifetime: stop()
// before destroying the catalog or anything it references; the engine, the
// stores and the executors must outlive it.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "common/async.h"
#include "common/async_key_lock.h"
#include "common/result.h"
#include "decide/rule_engine.h"
#include "store/stores.h"

namespace txv::decide {

struct RuleCatalogOptions {
  Executor admin;  // builds list sets (up to 1,000,000 entries); never an I/O thread
  std::chrono::milliseconds poll_interval{250};
  // Tells the other replicas that rules or lists changed (fire and forget; a
  // lost announcement costs at most one poll_interval). Empty: nobody to tell.
  std::function<void()> announce;
  // Called after each refresh with its outcome (metrics, logs). Optional.
  std::function<void(const Status&)> on_refresh;
};

class RuleCatalog {
 public:
  RuleCatalog(RuleCatalogOptions options, store::RuleStore& rules, store::ListStore& lists, RuleEngine& engine);
  ~RuleCatalog();
  RuleCatalog(const RuleCatalog&) = delete;
  RuleCatalog& operator=(const RuleCatalog&) = delete;

  // Start-up: loads every stored list and the rules into the engine.
  Task<Status> load_all();

  // Serialises changes through this replica with refreshes. Returns once the
  // engine's lists equal the stored ones (a change computed from them, such as
  // an add, then starts from the current content; a failed read is left to
  // the change itself, which fails the same way).
  Task<AsyncKeyLock::Guard> lock_changes();
  // After a rule change was stored (caller holds lock_changes()): reloads the
  // rules into the engine (completes once live) and announces the change.
  Task<Status> rules_changed_locked();
  // After a list change was stored (caller holds lock_changes()): swaps in the
  // list's new content, built by the caller off the I/O threads, and announces.
  // Each change bumps lists_version by one: when it moved by more than this
  // change, another replica changed lists meanwhile and the list is re-read
  // from the store by the next refresh rather than trusted.
  Task<void> list_changed_locked(const store::ListSummary& summary, std::shared_ptr<const ListEntries> entries);

  // Applies what other replicas changed since the last refresh.
  Task<Status> refresh();

  // Starts the poll loop on `where` (refresh() every poll_interval, or sooner after notify()).
  void start(Executor where);
  // An announcement arrived: refresh soon. Callable from any thread.
  void notify();
  // Stops the loop and waits for a refresh in progress to finish. Idempotent. Blocking: not from `where`.
  void stop();

  std::int64_t applied_lists_version() const { return applied_lists_version_.load(); }

 private:
  Task<Status> reload_rules_locked();
  Task<Status> refresh_lists_locked();
  struct Loop;
  Task<void> poll_loop(std::shared_ptr<Loop> loop);

  RuleCatalogOptions options_;
  store::RuleStore& rules_;
  store::ListStore& lists_;
  RuleEngine& engine_;
  AsyncKeyLock changes_;

  // Summaries of the lists applied to the engine; touched only under changes_.
  std::map<std::string, store::ListSummary> applied_lists_;
  std::atomic<std::int64_t> applied_lists_version_{-1};

  std::shared_ptr<Loop> loop_;
  std::mutex loop_mu_;  // guards loop_ (start/stop/notify), never held across a co_await
};

}  // namespace txv::decide
