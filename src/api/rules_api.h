// Handlers of contract sections 5, 6, 6b and 12: rules, named lists, audit log,
// rule analysis (POST /v1/rules/check, GET /v1/rules/analysis, and the
// `warnings` of POST/PUT /v1/rules answers; rules/analysis.h says what is
// analysed; the analysis runs on the admin executor).
//
// Every change is written to the store (which appends the audit entry in the
// same database transaction) and then handed to the RuleCatalog before the
// answer is sent, so it is live in this replica's decisions at once and
// announced to the others. Changes are serialised with the catalog's
// refreshes by its asynchronous lock (waiters suspend, no thread parks): they
// are rare admin operations, and it keeps the engine's list snapshots equal to
// the stored lists.
//
// Admin work never runs on an I/O thread: parsing a list upload (up to
// 128 MiB), building its look-up set, rendering a big list and the velocity
// backfill a longer rule window needs all run on the `admin` executor (a
// low-priority pool), and the I/O threads keep deciding meanwhile.
#pragma once

#include <boost/json.hpp>

#include "api/access.h"
#include "common/async_key_lock.h"
#include "decide/rule_catalog.h"
#include "decide/rule_engine.h"
#include "http/router.h"
#include "store/stores.h"

namespace txv::api {

class RulesApi {
 public:
  RulesApi(store::RuleStore& rules, store::ListStore& lists, store::AuditLog& audit, decide::RuleEngine& engine,
           decide::RuleCatalog& catalog, Executor admin);
  void register_routes(http::Router& router);

  Task<http::Response> create_rule(http::Request& request);
  Task<http::Response> replace_rule(http::Request& request);
  Task<http::Response> delete_rule(http::Request& request);
  Task<http::Response> get_rule(http::Request& request);
  Task<http::Response> list_rules(http::Request& request);
  // PUT /v1/rules (contract section 12): the whole set, If-Match: "<rules_version>".
  Task<http::Response> replace_rule_set(http::Request& request);
  Task<http::Response> replace_list(http::Request& request);
  Task<http::Response> add_list_entries(http::Request& request);
  Task<http::Response> remove_list_entry(http::Request& request);
  Task<http::Response> get_list(http::Request& request);
  // GET /v1/lists/{name}/entries?q=&cursor=&limit= → {"items", "next_cursor", "total"}:
  // one page of the entries (ascending bytewise, `q` a case-sensitive prefix),
  // read by an indexed range query (ListStore::list_entries_page), never the whole list.
  Task<http::Response> list_entries(http::Request& request);
  Task<http::Response> list_lists(http::Request& request);
  Task<http::Response> list_audit(http::Request& request);
  // Contract section 12: rule analysis.
  Task<http::Response> check_rule(http::Request& request);
  Task<http::Response> rules_analysis(http::Request& request);

  // Body limits (contract section 2): list uploads carry up to 1,000,000 entries.
  static constexpr std::size_t kMaxListUploadBody = 128 * 1024 * 1024;
  // PUT /v1/rules: up to kMaxRuleSet rules.
  static constexpr std::size_t kMaxRuleSetBody = 8 * 1024 * 1024;
  static constexpr std::size_t kMaxRuleSet = 1000;

 private:
  // The analysis warnings of `rule` within the stored set, as JSON.
  Task<boost::json::array> warnings_for(const store::RuleRecord& rule);

  store::RuleStore& rules_;
  store::ListStore& lists_;
  store::AuditLog& audit_;
  decide::RuleEngine& engine_;  // read only: the current list content a change starts from
  decide::RuleCatalog& catalog_;
  Executor admin_;
};

}  // namespace txv::api
