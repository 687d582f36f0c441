// Handlers of contract sections 5, 6 and 6b: rules, named lists, audit log.
//
// Every change is written to the store (which appends the audit entry in the
// same database transaction) and then applied to the RuleEngine before the
// answer is sent, so in embedded mode a change is live in decisions at once.
// Changes are serialised by one mutex: they are rare admin operations, and it
// keeps the engine's list snapshots equal to the stored lists.
#pragma once

#include <mutex>

#include "api/access.h"
#include "decide/rule_engine.h"
#include "http/router.h"
#include "store/stores.h"

namespace txv::api {

class RulesApi {
 public:
  RulesApi(AccessControl& access, store::RuleStore& rules, store::ListStore& lists, store::AuditLog& audit,
           decide::RuleEngine& engine);
  void register_routes(http::Router& router);

  // Loads every stored rule and list into the engine (start-up).
  Status load_all();

  http::Response create_rule(http::Request& request);
  http::Response replace_rule(http::Request& request);
  http::Response delete_rule(http::Request& request);
  http::Response get_rule(http::Request& request);
  http::Response list_rules(http::Request& request);
  http::Response replace_list(http::Request& request);
  http::Response add_list_entries(http::Request& request);
  http::Response remove_list_entry(http::Request& request);
  http::Response get_list(http::Request& request);
  http::Response list_lists(http::Request& request);
  http::Response list_audit(http::Request& request);

 private:
  Status reload_rules_locked();

  AccessControl& access_;
  store::RuleStore& rules_;
  store::ListStore& lists_;
  store::AuditLog& audit_;
  decide::RuleEngine& engine_;
  std::mutex change_mu_;
};

}  // namespace txv::api
