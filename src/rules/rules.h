// Umbrella header of txv_rules, the rule expression language: include this
// from other modules. See expression.h for the language contract and
// rule_set.h for evaluating many rules per transaction.
#pragma once

#include "rules/activation.h"  // IWYU pragma: export
#include "rules/error.h"       // IWYU pragma: export
#include "rules/expression.h"  // IWYU pragma: export
#include "rules/fields.h"      // IWYU pragma: export
#include "rules/rule_set.h"    // IWYU pragma: export
