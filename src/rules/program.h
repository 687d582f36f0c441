// Program: the evaluable form of a checked expression: flat bytecode for a
// small stack machine, plus its constants. Internal to txv_rules.
//
// Every field, metadata key, list and velocity reference is an operand
// resolved at compile time (a Field or a slot index); the machine never looks
// up a name. Constant lists used with `in` are pre-sorted sets. A Program is
// immutable once built and never moved (it is owned through a shared_ptr), so
// it may be shared by any number of threads and compiled expressions.
//
// The machine never allocates, never throws, and cannot fail: types were
// checked, the stack bound (max_stack <= kMaxStack) was checked by the
// compiler, and every run-time problem (absent value, overflow, division by
// zero) is represented as an "absent" value (see expression.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "rules/activation.h"
#include "rules/checker.h"
#include "rules/trace.h"

namespace txv::rules::internal {

// Upper bound of the value stack of one evaluation (it lives on the C++ stack).
inline constexpr int kMaxStack = 256;

enum class Op : std::uint8_t {
  kPushInt,        // push b (also bools: 0 / 1)
  kPushStr,        // push pool[a, a + b)
  kLoadInt,        // push int_field(Field(a))
  kLoadStr,        // push string_field(Field(a))
  kLoadMeta,       // push metadata(slot a)
  kLoadVelCount,   // push velocity(slot a).count
  kLoadVelAmount,  // push velocity(slot a).amount
  kNeg,
  kNot,
  kSize,  // string -> its length in code points (CEL's size())
  kAdd,
  kSub,
  kMul,
  kDiv,
  kMod,
  kEqI,  // ints and bools
  kNeI,
  kLtI,
  kLeI,
  kGtI,
  kGeI,
  kEqS,
  kNeS,
  kLtS,
  kLeS,
  kGtS,
  kGeS,
  kStartsWith,
  kEndsWith,
  kContains,
  kInList,      // top = top in list(slot a)
  kInSetS,      // top = top in string_sets[a]
  kInSetI,      // top = top in int_sets[a]
  kDynInStart,  // push accumulator for `x in [non-constant elements]`
  kDynInStepS,  // pop element, compare with x (below the accumulator)
  kDynInStepI,
  kDynInEnd,     // pop accumulator and x, push the result
  kJumpIfFalse,  // if top is (present) false: jump to a, keeping it
  kJumpIfTrue,   // if top is (present) true: jump to a, keeping it
  kAnd,          // combine the two top values with && (left is not false)
  kOr,           // combine the two top values with || (left is not true)
};

// b: kPushInt's value, kPushStr's length; for the traced instructions (the loads, kInList, kStartsWith,
// kEndsWith, kContains, kSize) the index into Program::trace_exprs of the value they leave on the stack.
struct Instr {
  Op op = Op::kPushInt;
  std::uint32_t a = 0;
  std::int64_t b = 0;
};

struct Program {
  Program() = default;
  Program(const Program&) = delete;
  Program& operator=(const Program&) = delete;

  std::string source;
  std::vector<Instr> code;
  std::string pool;                                   // string constants
  std::vector<std::vector<std::string>> string_sets;  // sorted, distinct
  std::vector<std::vector<std::int64_t>> int_sets;    // sorted, distinct
  int max_stack = 0;
  References refs;
  // 0, 1, 2, ...: the slot map of a standalone expression (local slot = slot).
  std::vector<std::uint32_t> identity;
  // The text of each distinct traced value (field, metadata and velocity reads, named-list tests, method and
  // size() results), in source order.
  std::vector<std::string> trace_exprs;
};

// Where a program's local slots land in the caller's numbering.
struct SlotMap {
  const ListSlot* lists = nullptr;
  const VelocitySlot* velocities = nullptr;
  const MetadataSlot* metadata = nullptr;
};

Outcome run(const Program& program, const Activation& activation, const SlotMap& slots);
// The same, also storing in trace[i] the value trace_exprs[i] had when the evaluation reached it (entries it did not
// reach keep kind kUnread). `trace` has program.trace_exprs.size() elements, all kUnread on entry.
Outcome run_traced(const Program& program, const Activation& activation, const SlotMap& slots, TraceValue* trace);

// One instruction per line, for tests and debugging.
std::string disassemble(const Program& program);

}  // namespace txv::rules::internal
