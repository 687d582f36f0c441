#include "rules/program.h"

#include <algorithm>
#include <limits>
#include <string_view>

namespace txv::rules::internal {
namespace {

// One stack slot. Strings are (p, length in i); ints are i; bools are i = 0/1.
// Trivial on purpose: the stack array is left uninitialised.
struct Value {
  const char* p;
  std::int64_t i;
  bool absent;
};

inline std::string_view sv(const Value& v) { return {v.p, static_cast<std::size_t>(v.i)}; }

inline Value absent_value() { return Value{nullptr, 0, true}; }
inline Value int_value(std::int64_t i) { return Value{nullptr, i, false}; }
inline Value str_value(std::string_view s) { return Value{s.data(), static_cast<std::int64_t>(s.size()), false}; }

constexpr std::size_t kLinearSearchMax = 8;

template <typename T, typename K>
bool set_contains(const std::vector<T>& set, const K& key) {
  if (set.size() <= kLinearSearchMax) {
    for (const auto& e : set) {
      if (e == key) {
        return true;
      }
    }
    return false;
  }
  auto it = std::lower_bound(set.begin(), set.end(), key);
  return it != set.end() && *it == key;
}

// What a traced instruction leaves on the stack (kUnread: the instruction is not traced).
constexpr TraceValue::Kind traced_kind(Op op) {
  switch (op) {
    case Op::kLoadInt:
    case Op::kLoadVelCount:
    case Op::kLoadVelAmount:
    case Op::kSize:
      return TraceValue::Kind::kInt;
    case Op::kLoadStr:
    case Op::kLoadMeta:
      return TraceValue::Kind::kString;
    case Op::kInList:
    case Op::kStartsWith:
    case Op::kEndsWith:
    case Op::kContains:
      return TraceValue::Kind::kBool;
    default:
      return TraceValue::Kind::kUnread;
  }
}

template <bool kTrace>
Outcome run_impl(const Program& program, const Activation& act, const SlotMap& slots, TraceValue* trace) {
  Value stack[kMaxStack];
  Value* sp = stack;  // next free slot
  const Instr* const code = program.code.data();
  const Instr* const end = code + program.code.size();
  const char* const pool = program.pool.data();

// Pops the right operand into `b` and names the left one (now the top) `a`.
#define TXV_BINARY            \
  const Value b = *--sp;      \
  Value& a = sp[-1];          \
  if (a.absent || b.absent) { \
    a.absent = true;          \
    break;                    \
  }

  for (const Instr* ip = code; ip < end; ++ip) {
    [[maybe_unused]] const Instr* const current = ip;
    switch (ip->op) {
      case Op::kPushInt:
        *sp++ = int_value(ip->b);
        break;
      case Op::kPushStr:
        *sp++ = Value{pool + ip->a, ip->b, false};
        break;
      case Op::kLoadInt: {
        const auto v = act.int_field(static_cast<Field>(ip->a));
        *sp++ = v ? int_value(*v) : absent_value();
        break;
      }
      case Op::kLoadStr: {
        const auto v = act.string_field(static_cast<Field>(ip->a));
        *sp++ = v ? str_value(*v) : absent_value();
        break;
      }
      case Op::kLoadMeta: {
        const auto v = act.metadata(slots.metadata[ip->a], program.refs.metadata_keys[ip->a]);
        *sp++ = v ? str_value(*v) : absent_value();
        break;
      }
      case Op::kLoadVelCount:
      case Op::kLoadVelAmount: {
        const auto v = act.velocity(slots.velocities[ip->a]);
        if (!v) {
          *sp++ = absent_value();
        } else {
          *sp++ = int_value(ip->op == Op::kLoadVelCount ? v->count : v->amount);
        }
        break;
      }
      case Op::kNeg: {
        Value& a = sp[-1];
        if (!a.absent) {
          if (a.i == std::numeric_limits<std::int64_t>::min()) {
            a.absent = true;
          } else {
            a.i = -a.i;
          }
        }
        break;
      }
      case Op::kNot:
        sp[-1].i = sp[-1].i == 0 ? 1 : 0;
        break;  // absent stays absent
      case Op::kSize: {
        // CEL: the size of a string is its number of Unicode code points. The
        // string is valid UTF-8 (rule sources are checked; field values come
        // from validated JSON), so that is the number of bytes that do not
        // continue a sequence (10xxxxxx).
        Value& a = sp[-1];
        if (!a.absent) {
          std::int64_t n = 0;
          for (const char c : sv(a)) {
            n += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
          }
          a.i = n;
        }
        a.p = nullptr;
        break;
      }
      case Op::kAdd: {
        TXV_BINARY
        if (__builtin_add_overflow(a.i, b.i, &a.i)) {
          a.absent = true;
        }
        break;
      }
      case Op::kSub: {
        TXV_BINARY
        if (__builtin_sub_overflow(a.i, b.i, &a.i)) {
          a.absent = true;
        }
        break;
      }
      case Op::kMul: {
        TXV_BINARY
        if (__builtin_mul_overflow(a.i, b.i, &a.i)) {
          a.absent = true;
        }
        break;
      }
      case Op::kDiv: {
        TXV_BINARY
        if (b.i == 0 || (b.i == -1 && a.i == std::numeric_limits<std::int64_t>::min())) {
          a.absent = true;
        } else {
          a.i /= b.i;
        }
        break;
      }
      case Op::kMod: {
        TXV_BINARY
        if (b.i == 0) {
          a.absent = true;
        } else if (b.i == -1) {
          a.i = 0;  // also avoids the INT64_MIN % -1 trap
        } else {
          a.i %= b.i;
        }
        break;
      }
      case Op::kEqI: {
        TXV_BINARY
        a.i = a.i == b.i;
        break;
      }
      case Op::kNeI: {
        TXV_BINARY
        a.i = a.i != b.i;
        break;
      }
      case Op::kLtI: {
        TXV_BINARY
        a.i = a.i < b.i;
        break;
      }
      case Op::kLeI: {
        TXV_BINARY
        a.i = a.i <= b.i;
        break;
      }
      case Op::kGtI: {
        TXV_BINARY
        a.i = a.i > b.i;
        break;
      }
      case Op::kGeI: {
        TXV_BINARY
        a.i = a.i >= b.i;
        break;
      }
      case Op::kEqS: {
        TXV_BINARY
        a.i = sv(a) == sv(b);
        break;
      }
      case Op::kNeS: {
        TXV_BINARY
        a.i = sv(a) != sv(b);
        break;
      }
      case Op::kLtS: {
        TXV_BINARY
        a.i = sv(a) < sv(b);
        break;
      }
      case Op::kLeS: {
        TXV_BINARY
        a.i = sv(a) <= sv(b);
        break;
      }
      case Op::kGtS: {
        TXV_BINARY
        a.i = sv(a) > sv(b);
        break;
      }
      case Op::kGeS: {
        TXV_BINARY
        a.i = sv(a) >= sv(b);
        break;
      }
      case Op::kStartsWith: {
        TXV_BINARY
        a.i = sv(a).starts_with(sv(b));
        break;
      }
      case Op::kEndsWith: {
        TXV_BINARY
        a.i = sv(a).ends_with(sv(b));
        break;
      }
      case Op::kContains: {
        TXV_BINARY
        a.i = sv(a).find(sv(b)) != std::string_view::npos;
        break;
      }
      case Op::kInList: {
        Value& a = sp[-1];
        if (!a.absent) {
          a.i = act.list_contains(slots.lists[ip->a], sv(a));
        }
        break;
      }
      case Op::kInSetS: {
        Value& a = sp[-1];
        if (!a.absent) {
          a.i = set_contains(program.string_sets[ip->a], sv(a));
        }
        break;
      }
      case Op::kInSetI: {
        Value& a = sp[-1];
        if (!a.absent) {
          a.i = set_contains(program.int_sets[ip->a], a.i);
        }
        break;
      }
      case Op::kDynInStart:
        *sp++ = int_value(0);
        break;
      case Op::kDynInStepS:
      case Op::kDynInStepI: {
        // Stack: x, acc, element. acc.i: a present element equal to x was seen;
        // acc.absent: an absent element was seen.
        const Value e = *--sp;
        Value& acc = sp[-1];
        const Value& x = sp[-2];
        if (e.absent) {
          acc.absent = true;
        } else if (!x.absent && acc.i == 0) {
          acc.i = ip->op == Op::kDynInStepS ? sv(x) == sv(e) : x.i == e.i;
        }
        break;
      }
      case Op::kDynInEnd: {
        const Value acc = *--sp;
        Value& x = sp[-1];
        if (x.absent) {
          break;  // absent x: absent result
        }
        if (acc.i != 0) {
          x = int_value(1);
        } else {
          x = acc.absent ? absent_value() : int_value(0);
        }
        break;
      }
      case Op::kJumpIfFalse:
        if (!sp[-1].absent && sp[-1].i == 0) {
          ip = code + ip->a - 1;
        }
        break;
      case Op::kJumpIfTrue:
        if (!sp[-1].absent && sp[-1].i != 0) {
          ip = code + ip->a - 1;
        }
        break;
      case Op::kAnd: {
        const Value b = *--sp;
        Value& a = sp[-1];  // true or absent: a false left operand jumped past us
        if (!b.absent && b.i == 0) {
          a = int_value(0);
        } else {
          a.absent = a.absent || b.absent;
          a.i = 1;
        }
        break;
      }
      case Op::kOr: {
        const Value b = *--sp;
        Value& a = sp[-1];  // false or absent: a true left operand jumped past us
        if (!b.absent && b.i != 0) {
          a = int_value(1);
        } else {
          a.absent = a.absent || b.absent;
          a.i = 0;
        }
        break;
      }
    }
    if constexpr (kTrace) {
      const TraceValue::Kind kind = traced_kind(current->op);
      if (kind != TraceValue::Kind::kUnread) {
        const Value& v = sp[-1];
        TraceValue& t = trace[current->b];
        if (v.absent) {
          t.kind = TraceValue::Kind::kAbsent;
        } else {
          t.kind = kind;
          t.i = v.i;
          if (kind == TraceValue::Kind::kString) t.s = sv(v);
        }
      }
    }
  }
#undef TXV_BINARY
  if (sp == stack) {
    return Outcome::kFalse;  // empty program: cannot happen for compiled code
  }
  const Value& r = stack[0];
  if (r.absent) {
    return Outcome::kAbsent;
  }
  return r.i != 0 ? Outcome::kTrue : Outcome::kFalse;
}

}  // namespace

Outcome run(const Program& program, const Activation& act, const SlotMap& slots) {
  return run_impl<false>(program, act, slots, nullptr);
}

Outcome run_traced(const Program& program, const Activation& act, const SlotMap& slots, TraceValue* trace) {
  return run_impl<true>(program, act, slots, trace);
}

std::string disassemble(const Program& p) {
  static constexpr const char* kNames[] = {
      "push_int",
      "push_str",
      "load_int",
      "load_str",
      "load_meta",
      "load_vel_count",
      "load_vel_amount",
      "neg",
      "not",
      "size",
      "add",
      "sub",
      "mul",
      "div",
      "mod",
      "eq_i",
      "ne_i",
      "lt_i",
      "le_i",
      "gt_i",
      "ge_i",
      "eq_s",
      "ne_s",
      "lt_s",
      "le_s",
      "gt_s",
      "ge_s",
      "starts_with",
      "ends_with",
      "contains",
      "in_list",
      "in_set_s",
      "in_set_i",
      "dyn_in_start",
      "dyn_in_step_s",
      "dyn_in_step_i",
      "dyn_in_end",
      "jump_if_false",
      "jump_if_true",
      "and",
      "or",
  };
  static_assert(std::size(kNames) == static_cast<std::size_t>(Op::kOr) + 1);
  std::string out;
  for (std::size_t i = 0; i < p.code.size(); ++i) {
    const Instr& in = p.code[i];
    out += std::to_string(i) + ": " + kNames[static_cast<std::size_t>(in.op)];
    switch (in.op) {
      case Op::kPushInt:
        out += " " + std::to_string(in.b);
        break;
      case Op::kPushStr:
        out += " \"" + p.pool.substr(in.a, static_cast<std::size_t>(in.b)) + "\"";
        break;
      case Op::kLoadInt:
      case Op::kLoadStr:
        out += " " + std::string(field_name(static_cast<Field>(in.a)));
        break;
      case Op::kLoadMeta:
        out += " #" + std::to_string(in.a) + " (" + p.refs.metadata_keys[in.a] + ")";
        break;
      case Op::kLoadVelCount:
      case Op::kLoadVelAmount:
      case Op::kInList:
      case Op::kInSetS:
      case Op::kInSetI:
        out += " #" + std::to_string(in.a);
        break;
      case Op::kJumpIfFalse:
      case Op::kJumpIfTrue:
        out += " -> " + std::to_string(in.a);
        break;
      default:
        break;
    }
    out += "\n";
  }
  return out;
}

}  // namespace txv::rules::internal
