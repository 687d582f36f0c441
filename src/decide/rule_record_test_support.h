// test::rule(): a stored rule record for tests of the decide layer, without
// any store (decide_test_support.h adds the rest and a real SQLite store).
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "domain/transaction.h"
#include "store/records.h"

namespace txv::decide::test {

inline store::RuleRecord rule(std::string id, std::string expr, domain::RuleAction action, std::int64_t priority,
                              store::RuleMode mode = store::RuleMode::kEnforce) {
  store::RuleRecord r;
  r.id = std::move(id);
  r.name = r.id;
  r.expression = std::move(expr);
  r.action = action;
  r.code = "code_" + r.id;
  r.priority = priority;
  r.mode = mode;
  return r;
}

}  // namespace txv::decide::test
