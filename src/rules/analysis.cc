#include "rules/analysis.h"

#include <algorithm>
#include <array>
#include <limits>
#include <map>
#include <set>
#include <utility>

#include "rules/ast.h"
#include "rules/checker.h"
#include "rules/diagnostics.h"
#include "rules/expression.h"
#include "rules/fields.h"
#include "rules/parser.h"

namespace txv::rules {
namespace {

using internal::BinaryOp;
using internal::Node;
using internal::NodeKind;
using internal::RefKind;
using internal::TypeKind;

constexpr std::int64_t kI64Min = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t kI64Max = std::numeric_limits<std::int64_t>::max();
// At most this many atoms on one field in one question (2^k truth vectors).
constexpr std::size_t kMaxPredsPerField = 12;
// At most this many combinations enumerated for one question.
constexpr std::uint64_t kMaxCombinations = 1U << 15;
// Enumerate a string domain value by value up to this size.
constexpr std::uint64_t kMaxEnumeratedDomain = 1000;
constexpr std::uint32_t kAbsentState = 0xFFFFFFFFU;
// Work allowed for one analysis (combinations visited plus domain values
// evaluated); past it every open question gets "unknown" (no warning).
constexpr std::uint64_t kWorkBudget = 40'000'000;

// Three-valued truth, as the evaluator computes it.
enum V : std::uint8_t { kF = 0, kT = 1, kA = 2 };

std::size_t cp_length(std::string_view s) {
  std::size_t n = 0;
  for (const char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
  return n;
}

// ------------------------------------------------------------------ domains

// A superset of the values a stored transaction can hold in a field
// (docs/validation.md, src/api/mapping/transaction_request.cc,
// decide/pipeline.cc summarise_card, decide/transaction_activation.h: an empty
// string reads as absent).
struct Domain {
  bool is_int = false;
  bool optional = true;
  std::int64_t ilo = 0, ihi = 0;         // int fields
  std::vector<std::string> values;       // explicit finite set (type)
  std::string alphabet;                  // ASCII alphabet of every char; "" = any character
  std::size_t min_len = 1, max_len = 0;  // in code points
  bool email = false;                    // exactly one '@', not first or last, no space or control char
};

const std::string kDigits = "0123456789";
const std::string kUpper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const std::string kHex = "0123456789ABCDEFabcdef";
const std::string kIdChars = "-.0123456789:ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";
const std::string kIpChars = ".0123456789:ABCDEFabcdef";

Domain string_domain(std::string alphabet, std::size_t min_len, std::size_t max_len, bool optional) {
  Domain d;
  d.alphabet = std::move(alphabet);
  std::sort(d.alphabet.begin(), d.alphabet.end());
  d.min_len = min_len;
  d.max_len = max_len;
  d.optional = optional;
  return d;
}

Domain domain_of(Field f) {
  switch (f) {
    case Field::kAmount: {
      Domain d;
      d.is_int = true;
      d.optional = false;
      d.ilo = 0;  // 1.., or 0 for verifications
      d.ihi = 1'000'000'000'000'000;
      return d;
    }
    case Field::kCurrency:
      return string_domain(kUpper, 3, 3, false);
    case Field::kType: {
      Domain d = string_domain("", 1, 13, false);
      d.values = {"authorization", "payout", "purchase", "refund", "verification"};
      return d;
    }
    case Field::kTransactionId:
    case Field::kMerchantId:
      return string_domain(kIdChars, 1, 64, false);
    case Field::kCardBrand:
      return string_domain("", 1, 32, true);
    case Field::kCardBin:
      return string_domain(kDigits, 6, 8, true);
    case Field::kCardLast4:
      return string_domain(kDigits, 4, 4, true);
    case Field::kCardFingerprint:
      return string_domain(kHex, 32, 32, true);
    case Field::kCustomerId:
    case Field::kCustomerDeviceId:
      return string_domain("", 1, 128, true);
    case Field::kCustomerEmail: {
      Domain d = string_domain("", 3, 254, true);
      d.email = true;
      return d;
    }
    case Field::kCustomerIp:
      return string_domain(kIpChars, 2, 45, true);
    case Field::kCustomerCountry:
    case Field::kMerchantCountry:
      return string_domain(kUpper, 2, 2, true);
    case Field::kMerchantMcc:
      return string_domain(kDigits, 4, 4, true);
  }
  return string_domain("", 0, 1000, true);
}

bool in_alphabet(const Domain& d, std::string_view s) {
  if (d.alphabet.empty()) return true;
  return std::all_of(s.begin(), s.end(), [&](char c) { return d.alphabet.find(c) != std::string::npos; });
}

bool email_chars_ok(std::string_view s) {
  return std::none_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7F;
  });
}

bool in_domain(const Domain& d, std::string_view v) {
  if (!d.values.empty()) return std::find(d.values.begin(), d.values.end(), v) != d.values.end();
  const std::size_t n = cp_length(v);
  if (n < d.min_len || n > d.max_len || !in_alphabet(d, v)) return false;
  if (d.email) {
    const auto at = v.find('@');
    if (at == std::string_view::npos || at == 0 || at + 1 == v.size() || v.find('@', at + 1) != std::string_view::npos)
      return false;
    if (!email_chars_ok(v)) return false;
  }
  return true;
}

// True for a string domain small enough to enumerate value by value.
bool enumerable(const Domain& d) {
  if (!d.values.empty()) return true;
  if (d.is_int || d.alphabet.empty() || d.email) return false;
  std::uint64_t total = 0;
  for (std::size_t len = d.min_len; len <= d.max_len; ++len) {
    std::uint64_t n = 1;
    for (std::size_t i = 0; i < len && n <= kMaxEnumeratedDomain; ++i) n *= d.alphabet.size();
    total += n;
    if (total > kMaxEnumeratedDomain) return false;
  }
  return true;
}

// Every value of an enumerable() domain.
std::vector<std::string> enumerate_domain(const Domain& d) {
  if (!d.values.empty()) return d.values;
  std::vector<std::string> out;
  for (std::size_t len = d.min_len; len <= d.max_len; ++len) {
    std::vector<std::size_t> idx(len, 0);
    while (true) {
      std::string s(len, ' ');
      for (std::size_t i = 0; i < len; ++i) s[i] = d.alphabet[idx[i]];
      out.push_back(std::move(s));
      std::size_t i = len;
      while (i > 0 && ++idx[i - 1] == d.alphabet.size()) idx[--i] = 0;
      if (i == 0) break;
    }
  }
  return out;
}

// ------------------------------------------------------------------ predicates

enum class PredKind : std::uint8_t { kIntRange, kIntIn, kStrIn, kStrLt, kStrLe, kStarts, kEnds, kContains, kSize };

// A predicate on one field's present value.
struct Pred {
  PredKind kind = PredKind::kIntRange;
  std::int64_t lo = 0, hi = 0;     // kIntRange, kSize (inclusive; lo > hi: empty)
  std::vector<std::int64_t> ints;  // kIntIn
  std::vector<std::string> strs;   // kStrIn
  std::string s;                   // kStrLt, kStrLe, kStarts, kEnds, kContains

  std::string key() const {
    std::string k = std::to_string(static_cast<int>(kind)) + ":" + std::to_string(lo) + ":" + std::to_string(hi);
    for (auto i : ints) k += "," + std::to_string(i);
    for (const auto& x : strs) k += "|" + std::to_string(x.size()) + ":" + x;
    k += "|" + std::to_string(s.size()) + ":" + s;
    return k;
  }
  bool eval_int(std::int64_t v) const {
    if (kind == PredKind::kIntRange) return lo <= v && v <= hi;
    return std::binary_search(ints.begin(), ints.end(), v);
  }
  bool eval_str(std::string_view v) const {
    switch (kind) {
      case PredKind::kStrIn:
        return std::find(strs.begin(), strs.end(), v) != strs.end();
      case PredKind::kStrLt:
        return v < std::string_view(s);
      case PredKind::kStrLe:
        return v <= std::string_view(s);
      case PredKind::kStarts:
        return v.starts_with(s);
      case PredKind::kEnds:
        return v.ends_with(s);
      case PredKind::kContains:
        return v.find(s) != std::string_view::npos;
      case PredKind::kSize: {
        const auto n = static_cast<std::int64_t>(cp_length(v));
        return lo <= n && n <= hi;
      }
      default:
        return false;
    }
  }
};

// Sound "no value of the domain satisfies all of these" for a string field:
// true only when proven. `lits` pairs a predicate with the truth it must have.
bool proven_unsat(const Domain& d, const std::vector<std::pair<const Pred*, bool>>& lits) {
  // A positive equality or `in`: finitely many candidates, checked exactly.
  for (const auto& [p, want] : lits) {
    if (p->kind != PredKind::kStrIn || !want) continue;
    for (const auto& c : p->strs) {
      if (!in_domain(d, c)) continue;
      bool all = true;
      for (const auto& [q, w] : lits) all = all && q->eval_str(c) == w;
      if (all) return false;
    }
    return true;
  }
  // Necessary conditions. Lengths first.
  std::vector<char> len_ok(d.max_len + 1, 0);
  for (std::size_t l = d.min_len; l <= d.max_len; ++l) len_ok[l] = 1;
  std::vector<std::string_view> prefixes, suffixes, inside, not_prefix, not_suffix, not_inside;
  std::string lower, upper;  // order bounds on the value
  bool lower_strict = false, upper_strict = false, has_upper = false;
  auto raise_lower = [&](std::string_view c, bool strict) {
    if (c > std::string_view(lower) || (c == std::string_view(lower) && strict)) {
      lower = std::string(c);
      lower_strict = strict;
    }
  };
  auto cut_upper = [&](std::string_view c, bool strict) {
    if (!has_upper || c < std::string_view(upper) || (c == std::string_view(upper) && strict)) {
      upper = std::string(c);
      upper_strict = strict;
      has_upper = true;
    }
  };
  for (const auto& [p, want] : lits) {
    switch (p->kind) {
      case PredKind::kSize:
        for (std::size_t l = 0; l < len_ok.size(); ++l) {
          const bool in = p->lo <= static_cast<std::int64_t>(l) && static_cast<std::int64_t>(l) <= p->hi;
          if (in != want) len_ok[l] = 0;
        }
        break;
      case PredKind::kStarts:
        (want ? prefixes : not_prefix).push_back(p->s);
        if (want) raise_lower(p->s, false);
        break;
      case PredKind::kEnds:
        (want ? suffixes : not_suffix).push_back(p->s);
        break;
      case PredKind::kContains:
        (want ? inside : not_inside).push_back(p->s);
        break;
      case PredKind::kStrLt:
        if (want) {
          cut_upper(p->s, true);
        } else {
          raise_lower(p->s, false);
        }
        break;
      case PredKind::kStrLe:
        if (want) {
          cut_upper(p->s, false);
        } else {
          raise_lower(p->s, true);
        }
        break;
      default:
        break;  // negative `in`: excludes finitely many values, proves nothing here
    }
  }
  std::vector<std::string_view> positive;
  positive.insert(positive.end(), prefixes.begin(), prefixes.end());
  positive.insert(positive.end(), suffixes.begin(), suffixes.end());
  positive.insert(positive.end(), inside.begin(), inside.end());
  for (auto a : positive) {
    const std::size_t n = cp_length(a);
    for (std::size_t l = 0; l < len_ok.size() && l < n; ++l) len_ok[l] = 0;
    if (!in_alphabet(d, a)) return true;
    if (d.email && (!email_chars_ok(a) || std::count(a.begin(), a.end(), '@') > 1)) return true;
  }
  if (std::find(len_ok.begin(), len_ok.end(), 1) == len_ok.end()) return true;
  if (d.email) {
    for (auto a : prefixes)
      if (a.starts_with('@')) return true;
    for (auto a : suffixes)
      if (a.ends_with('@')) return true;
  }
  for (auto a : prefixes)
    for (auto b : prefixes)
      if (!a.starts_with(b) && !b.starts_with(a)) return true;
  for (auto a : suffixes)
    for (auto b : suffixes)
      if (!a.ends_with(b) && !b.ends_with(a)) return true;
  for (auto q : not_prefix) {
    if (q.empty()) return true;
    for (auto a : prefixes)
      if (a.starts_with(q)) return true;
  }
  for (auto q : not_suffix) {
    if (q.empty()) return true;
    for (auto a : suffixes)
      if (a.ends_with(q)) return true;
  }
  for (auto q : not_inside) {
    if (q.empty()) return true;
    for (auto a : positive)
      if (a.find(q) != std::string_view::npos) return true;
  }
  if (!d.alphabet.empty()) {
    // Every value lies between the smallest and the largest string of the domain.
    raise_lower(std::string(d.min_len, d.alphabet.front()), false);
    cut_upper(std::string(d.max_len, d.alphabet.back()), false);
  }
  if (has_upper) {
    if (std::string_view(lower) > std::string_view(upper)) return true;
    if (lower == upper && (lower_strict || upper_strict)) return true;
  }
  return false;
}

// ------------------------------------------------------------------ formulas

struct Formula {
  enum class Kind : std::uint8_t { kConst, kField, kOpaque, kNot, kAnd, kOr };
  Kind kind = Kind::kConst;
  V value = kF;
  Field field = Field::kAmount;
  int pred = 0;
  bool neg = false;
  int opaque = 0;
  std::size_t pos = 0;  // byte offset where the sub-expression starts
  std::vector<Formula> kids;
};

// The atoms of a group of rules analysed together.
struct Universe {
  std::array<std::vector<Pred>, kFieldCount> preds;
  std::array<std::map<std::string, int>, kFieldCount> pred_index;
  std::map<std::string, int> opaque_index;
  std::map<std::pair<int, std::vector<int>>, std::vector<std::uint32_t>> states_cache;
  std::uint64_t budget = kWorkBudget;

  // Takes `n` units of work; false (and nothing taken) when the budget is spent.
  bool spend(std::uint64_t n) {
    if (budget < n) {
      budget = 0;
      return false;
    }
    budget -= n;
    return true;
  }

  int add_pred(Field f, Pred p) {
    const auto fi = static_cast<std::size_t>(f);
    auto [it, inserted] = pred_index[fi].emplace(p.key(), static_cast<int>(preds[fi].size()));
    if (inserted) preds[fi].push_back(std::move(p));
    return it->second;
  }
  int add_opaque(const std::string& key) {
    auto [it, inserted] = opaque_index.emplace(key, static_cast<int>(opaque_index.size()));
    return it->second;
  }

  // The truth vectors (bit i: subset[i]) a present value can give, a superset
  // of the real ones, plus kAbsentState for an optional field.
  // Null when the work budget does not cover computing them (the question is
  // then left unanswered: never an incomplete set of states).
  const std::vector<std::uint32_t>* states(Field f, const std::vector<int>& subset) {
    const auto fi = static_cast<std::size_t>(f);
    auto key = std::make_pair(static_cast<int>(fi), subset);
    if (auto it = states_cache.find(key); it != states_cache.end()) return &it->second;
    const Domain d = domain_of(f);
    std::set<std::uint32_t> out;
    auto vector_of = [&](auto&& eval) {
      std::uint32_t m = 0;
      for (std::size_t i = 0; i < subset.size(); ++i)
        if (eval(preds[fi][static_cast<std::size_t>(subset[i])])) m |= 1U << i;
      return m;
    };
    if (d.is_int) {
      std::vector<std::int64_t> cands = {d.ilo, d.ihi};
      auto add = [&](std::int64_t c) {
        for (std::int64_t delta : {-1, 0, 1}) {
          std::int64_t v = 0;
          if (__builtin_add_overflow(c, delta, &v)) continue;
          cands.push_back(std::clamp(v, d.ilo, d.ihi));
        }
      };
      for (int i : subset) {
        const Pred& p = preds[fi][static_cast<std::size_t>(i)];
        add(p.lo);
        add(p.hi);
        for (auto c : p.ints) add(c);
      }
      for (auto v : cands) out.insert(vector_of([v](const Pred& p) { return p.eval_int(v); }));
    } else if (enumerable(d)) {
      const auto* full = full_vectors(f, d);
      if (full == nullptr) return nullptr;
      // A small finite domain: project the exact vectors over all the field's atoms.
      if (!spend(full->size() * subset.size() + 1)) return nullptr;
      for (const auto& bits : *full) {
        std::uint32_t m = 0;
        for (std::size_t i = 0; i < subset.size(); ++i)
          if (bits[static_cast<std::size_t>(subset[i])]) m |= 1U << i;
        out.insert(m);
      }
    } else {
      if (!spend((std::uint64_t{1} << subset.size()) * (subset.size() * subset.size() + 1))) return nullptr;
      std::vector<std::pair<const Pred*, bool>> lits(subset.size());
      for (std::uint32_t m = 0; m < (1U << subset.size()); ++m) {
        for (std::size_t i = 0; i < subset.size(); ++i)
          lits[i] = {&preds[fi][static_cast<std::size_t>(subset[i])], ((m >> i) & 1U) != 0};
        if (!proven_unsat(d, lits)) out.insert(m);
      }
    }
    if (d.optional) out.insert(kAbsentState);
    return &states_cache.emplace(std::move(key), std::vector<std::uint32_t>(out.begin(), out.end())).first->second;
  }

 private:
  // For a small finite string domain: the distinct truth vectors over every
  // atom of the field, computed by evaluating each value of the domain once.
  // Null for other domains (or when the budget is spent).
  const std::set<std::vector<bool>>* full_vectors(Field f, const Domain& d) {
    const auto fi = static_cast<std::size_t>(f);
    auto& slot = full_[fi];
    if (slot && slot->first == preds[fi].size()) return &slot->second;
    const std::vector<std::string> all = enumerate_domain(d);
    if (!spend(all.size() * (preds[fi].size() + 1))) return nullptr;
    std::set<std::vector<bool>> vectors;
    std::vector<bool> bits(preds[fi].size());
    for (const auto& v : all) {
      for (std::size_t i = 0; i < bits.size(); ++i) bits[i] = preds[fi][i].eval_str(v);
      vectors.insert(bits);
    }
    slot.emplace(preds[fi].size(), std::move(vectors));
    return &slot->second;
  }

  std::array<std::optional<std::pair<std::size_t, std::set<std::vector<bool>>>>, kFieldCount> full_;
};

std::optional<std::int64_t> const_int(const Node& n) {
  switch (n.kind) {
    case NodeKind::kInt:
      if (n.literal_2_63) return std::nullopt;
      return n.int_value;
    case NodeKind::kNeg: {
      auto a = const_int(*n.args[0]);
      if (!a || *a == kI64Min) return std::nullopt;
      return -*a;
    }
    case NodeKind::kBinary: {
      auto a = const_int(*n.args[0]);
      auto b = n.args.size() > 1 ? const_int(*n.args[1]) : std::nullopt;
      if (!a || !b) return std::nullopt;
      std::int64_t r = 0;
      switch (n.op) {
        case BinaryOp::kAdd:
          if (__builtin_add_overflow(*a, *b, &r)) return std::nullopt;
          return r;
        case BinaryOp::kSub:
          if (__builtin_sub_overflow(*a, *b, &r)) return std::nullopt;
          return r;
        case BinaryOp::kMul:
          if (__builtin_mul_overflow(*a, *b, &r)) return std::nullopt;
          return r;
        case BinaryOp::kDiv:
          if (*b == 0 || (*b == -1 && *a == kI64Min)) return std::nullopt;
          return *a / *b;
        case BinaryOp::kMod:
          if (*b == 0) return std::nullopt;
          return *b == -1 ? 0 : *a % *b;
        default:
          return std::nullopt;
      }
    }
    default:
      return std::nullopt;
  }
}

bool is_field(const Node& n) { return n.ref.kind == RefKind::kField; }

// size(F) or F.size() of a string field: the field node, else null.
const Node* size_of_field(const Node& n) {
  if (n.kind == NodeKind::kCall && n.text == "size" && n.args.size() == 1 && is_field(*n.args[0]) &&
      n.args[0]->type.kind == TypeKind::kString)
    return n.args[0].get();
  if (n.kind == NodeKind::kMethod && n.text == "size" && n.args.size() == 1 && is_field(*n.args[0]) &&
      n.args[0]->type.kind == TypeKind::kString)
    return n.args[0].get();
  return nullptr;
}

BinaryOp flip(BinaryOp op) {
  switch (op) {
    case BinaryOp::kLt:
      return BinaryOp::kGt;
    case BinaryOp::kLe:
      return BinaryOp::kGe;
    case BinaryOp::kGt:
      return BinaryOp::kLt;
    case BinaryOp::kGe:
      return BinaryOp::kLe;
    default:
      return op;
  }
}

// `x op c` on integers as a range predicate, or negation of one.
std::pair<Pred, bool> int_compare(BinaryOp op, std::int64_t c, PredKind range_kind) {
  Pred p;
  p.kind = range_kind;
  switch (op) {
    case BinaryOp::kEq:
    case BinaryOp::kNe:
      p.lo = p.hi = c;
      return {p, op == BinaryOp::kNe};
    case BinaryOp::kLt:  // x < c  ==  !(x >= c)
    case BinaryOp::kGe:
      p.lo = c;
      p.hi = kI64Max;
      return {p, op == BinaryOp::kLt};
    default:  // kLe: x <= c  ==  !(x > c); kGt
      if (c == kI64Max) {
        p.lo = 1;
        p.hi = 0;  // x > max: empty
      } else {
        p.lo = c + 1;
        p.hi = kI64Max;
      }
      return {p, op == BinaryOp::kLe};
  }
}

struct Model {
  bool ok = false;
  CompileError error;
  std::string source;
  Formula root;
  std::vector<std::pair<std::string, std::size_t>> lists;  // name, byte offset of the call
};

class Builder {
 public:
  explicit Builder(Universe& u) : u_(u) {}

  Formula build(const Node& n) {
    Formula f;
    f.pos = internal::start_pos(n);
    switch (n.kind) {
      case NodeKind::kBool:
        f.kind = Formula::Kind::kConst;
        f.value = n.bool_value ? kT : kF;
        return f;
      case NodeKind::kNot:
        f.kind = Formula::Kind::kNot;
        f.kids.push_back(build(*n.args[0]));
        return f;
      case NodeKind::kAnd:
      case NodeKind::kOr:
        f.kind = n.kind == NodeKind::kAnd ? Formula::Kind::kAnd : Formula::Kind::kOr;
        for (const auto& a : n.args) f.kids.push_back(build(*a));
        return f;
      default:
        break;
    }
    if (understand(n, f)) return f;
    f.kind = Formula::Kind::kOpaque;
    f.opaque = u_.add_opaque(internal::source_text(n));
    return f;
  }

 private:
  bool set_field(Formula& f, Field field, Pred p, bool neg) {
    f.kind = Formula::Kind::kField;
    f.field = field;
    f.neg = neg;
    f.pred = u_.add_pred(field, std::move(p));
    return true;
  }

  bool understand(const Node& n, Formula& f) {
    if (n.kind == NodeKind::kMethod && n.args.size() == 2 && is_field(*n.args[0]) &&
        n.args[0]->type.kind == TypeKind::kString && n.args[1]->kind == NodeKind::kString) {
      Pred p;
      if (n.text == "startsWith") {
        p.kind = PredKind::kStarts;
      } else if (n.text == "endsWith") {
        p.kind = PredKind::kEnds;
      } else if (n.text == "contains") {
        p.kind = PredKind::kContains;
      } else {
        return false;
      }
      p.s = n.args[1]->text;
      return set_field(f, n.args[0]->ref.field, std::move(p), false);
    }
    if (n.kind != NodeKind::kBinary) return false;
    const Node& l = *n.args[0];
    const Node& r = *n.args[1];
    if (n.op == BinaryOp::kIn) {
      if (!is_field(l) || r.kind != NodeKind::kList) return false;
      Pred p;
      if (l.type.kind == TypeKind::kInt) {
        p.kind = PredKind::kIntIn;
        for (const auto& e : r.args) {
          auto c = const_int(*e);
          if (!c) return false;
          p.ints.push_back(*c);
        }
        std::sort(p.ints.begin(), p.ints.end());
        p.ints.erase(std::unique(p.ints.begin(), p.ints.end()), p.ints.end());
      } else if (l.type.kind == TypeKind::kString) {
        p.kind = PredKind::kStrIn;
        for (const auto& e : r.args) {
          if (e->kind != NodeKind::kString) return false;
          p.strs.push_back(e->text);
        }
        std::sort(p.strs.begin(), p.strs.end());
        p.strs.erase(std::unique(p.strs.begin(), p.strs.end()), p.strs.end());
      } else {
        return false;
      }
      return set_field(f, l.ref.field, std::move(p), false);
    }
    BinaryOp op = n.op;
    if (op != BinaryOp::kEq && op != BinaryOp::kNe && op != BinaryOp::kLt && op != BinaryOp::kLe &&
        op != BinaryOp::kGt && op != BinaryOp::kGe)
      return false;
    const Node* var = &l;
    const Node* cst = &r;
    if (!is_field(l) && size_of_field(l) == nullptr) {
      var = &r;
      cst = &l;
      op = flip(op);
    }
    if (const Node* sized = size_of_field(*var)) {
      auto c = const_int(*cst);
      if (!c) return false;
      auto [p, neg] = int_compare(op, *c, PredKind::kSize);
      return set_field(f, sized->ref.field, std::move(p), neg);
    }
    if (!is_field(*var)) return false;
    const Field field = var->ref.field;
    if (var->type.kind == TypeKind::kInt) {
      auto c = const_int(*cst);
      if (!c) return false;
      auto [p, neg] = int_compare(op, *c, PredKind::kIntRange);
      return set_field(f, field, std::move(p), neg);
    }
    if (var->type.kind != TypeKind::kString || cst->kind != NodeKind::kString) return false;
    Pred p;
    bool neg = false;
    switch (op) {
      case BinaryOp::kEq:
      case BinaryOp::kNe:
        p.kind = PredKind::kStrIn;
        p.strs = {cst->text};
        neg = op == BinaryOp::kNe;
        break;
      case BinaryOp::kLt:
      case BinaryOp::kGe:
        p.kind = PredKind::kStrLt;
        p.s = cst->text;
        neg = op == BinaryOp::kGe;
        break;
      default:  // kLe, kGt
        p.kind = PredKind::kStrLe;
        p.s = cst->text;
        neg = op == BinaryOp::kGt;
        break;
    }
    return set_field(f, field, std::move(p), neg);
  }

  Universe& u_;
};

void collect_lists(const Node& n, std::vector<std::pair<std::string, std::size_t>>& out) {
  if (n.kind == NodeKind::kCall && n.ref.kind == RefKind::kNamedList && !n.args.empty()) {
    const std::string& name = n.args[0]->text;
    if (std::none_of(out.begin(), out.end(), [&](const auto& e) { return e.first == name; }))
      out.emplace_back(name, internal::start_pos(n));
  }
  for (const auto& a : n.args) collect_lists(*a, out);
}

Model build_model(std::string_view source, Universe& u) {
  Model m;
  m.source = std::string(source);
  auto compiled = compile(source);  // every check the rule has to pass, the compiler's included
  if (!compiled.ok()) {
    m.error = compiled.error();
    return m;
  }
  internal::ParseResult parsed = internal::parse(source);
  if (parsed.error || !parsed.root) return m;
  internal::CheckResult checked = internal::check(*parsed.root, source);
  if (checked.error) return m;
  m.root = Builder(u).build(*parsed.root);
  collect_lists(*parsed.root, m.lists);
  m.ok = true;
  return m;
}

// ------------------------------------------------------------------ enumeration

class Space {
 public:
  Space(Universe& u, std::initializer_list<const Formula*> roots) : u_(u) {
    std::array<std::set<int>, kFieldCount> used;
    std::set<int> opaques;
    for (const Formula* r : roots) collect(*r, used, opaques);
    field_var_.fill(-1);
    for (std::size_t fi = 0; fi < kFieldCount; ++fi) {
      if (used[fi].empty()) continue;
      if (used[fi].size() > kMaxPredsPerField) {
        too_big_ = true;
        return;
      }
      FieldVar v;
      v.field = static_cast<Field>(fi);
      v.subset.assign(used[fi].begin(), used[fi].end());
      v.bit.assign(u.preds[fi].size(), -1);
      for (std::size_t i = 0; i < v.subset.size(); ++i)
        v.bit[static_cast<std::size_t>(v.subset[i])] = static_cast<int>(i);
      v.states = u.states(v.field, v.subset);
      if (v.states == nullptr) {
        too_big_ = true;
        return;
      }
      field_var_[fi] = static_cast<int>(fields_.size());
      fields_.push_back(std::move(v));
    }
    opaque_var_.assign(u.opaque_index.size(), -1);
    for (int o : opaques) {
      opaque_var_[static_cast<std::size_t>(o)] = static_cast<int>(opaque_values_.size());
      opaque_values_.push_back(kF);
    }
    std::uint64_t total = 1;
    for (const auto& v : fields_) {
      total *= v.states->size();
      if (total > kMaxCombinations) break;
    }
    for (std::size_t i = 0; i < opaque_values_.size() && total <= kMaxCombinations; ++i) total *= 3;
    too_big_ = total > kMaxCombinations;
    choice_.assign(fields_.size(), 0);
  }

  // Calls visit() for every combination until it returns false. False when
  // the space is too big to enumerate (nothing is visited then) or a visit
  // returned false.
  template <class Visit>
  bool for_each(Visit&& visit) {
    if (too_big_) return false;
    while (true) {
      if (!u_.spend(1) || !visit()) return false;
      std::size_t i = 0;
      for (; i < fields_.size(); ++i) {
        if (++choice_[i] < fields_[i].states->size()) break;
        choice_[i] = 0;
      }
      if (i < fields_.size()) continue;
      std::size_t j = 0;
      for (; j < opaque_values_.size(); ++j) {
        if (opaque_values_[j] != kA) {
          opaque_values_[j] = static_cast<V>(opaque_values_[j] + 1);
          break;
        }
        opaque_values_[j] = kF;
      }
      if (j == opaque_values_.size()) return true;
    }
  }

  V eval(const Formula& f) const {
    switch (f.kind) {
      case Formula::Kind::kConst:
        return f.value;
      case Formula::Kind::kField: {
        const FieldVar& v = fields_[static_cast<std::size_t>(field_var_[static_cast<std::size_t>(f.field)])];
        const std::uint32_t s =
            (*v.states)[choice_[static_cast<std::size_t>(field_var_[static_cast<std::size_t>(f.field)])]];
        if (s == kAbsentState) return kA;
        const bool bit = ((s >> v.bit[static_cast<std::size_t>(f.pred)]) & 1U) != 0;
        return bit != f.neg ? kT : kF;
      }
      case Formula::Kind::kOpaque:
        return opaque_values_[static_cast<std::size_t>(opaque_var_[static_cast<std::size_t>(f.opaque)])];
      case Formula::Kind::kNot: {
        const V a = eval(f.kids[0]);
        return a == kA ? kA : (a == kT ? kF : kT);
      }
      case Formula::Kind::kAnd: {
        V acc = kT;
        for (const auto& k : f.kids) {
          const V a = eval(k);
          if (a == kF) return kF;
          if (a == kA) acc = kA;
        }
        return acc;
      }
      case Formula::Kind::kOr: {
        V acc = kF;
        for (const auto& k : f.kids) {
          const V a = eval(k);
          if (a == kT) return kT;
          if (a == kA) acc = kA;
        }
        return acc;
      }
    }
    return kA;
  }

 private:
  struct FieldVar {
    Field field = Field::kAmount;
    std::vector<int> subset;
    std::vector<int> bit;  // by pred index: its bit in a state, -1 when unused
    const std::vector<std::uint32_t>* states = nullptr;
  };

  static void collect(const Formula& f, std::array<std::set<int>, kFieldCount>& used, std::set<int>& opaques) {
    if (f.kind == Formula::Kind::kField) used[static_cast<std::size_t>(f.field)].insert(f.pred);
    if (f.kind == Formula::Kind::kOpaque) opaques.insert(f.opaque);
    for (const auto& k : f.kids) collect(k, used, opaques);
  }

  Universe& u_;
  bool too_big_ = false;
  std::vector<FieldVar> fields_;
  std::array<int, kFieldCount> field_var_{};
  std::vector<int> opaque_var_;
  std::vector<V> opaque_values_;
  std::vector<std::size_t> choice_;
};

// Proven: no transaction makes f true.
bool never_true(Universe& u, const Formula& f) {
  Space s(u, {&f});
  return s.for_each([&] { return s.eval(f) != kT; });
}

// Proven: every transaction makes f true.
bool always_true(Universe& u, const Formula& f) {
  Space s(u, {&f});
  return s.for_each([&] { return s.eval(f) == kT; });
}

// Proven: every transaction that makes a true makes b true.
bool covers(Universe& u, const Formula& b, const Formula& a) {
  Space s(u, {&a, &b});
  return s.for_each([&] { return s.eval(a) != kT || s.eval(b) == kT; });
}

// The variables a formula reads: a field's index, or kFieldCount + an opaque atom's.
void variables(const Formula& f, std::set<int>& out) {
  if (f.kind == Formula::Kind::kField) out.insert(static_cast<int>(f.field));
  if (f.kind == Formula::Kind::kOpaque) out.insert(static_cast<int>(kFieldCount) + f.opaque);
  for (const auto& k : f.kids) variables(k, out);
}

void conjuncts(const Formula& f, std::vector<const Formula*>& out) {
  if (f.kind == Formula::Kind::kAnd) {
    for (const auto& k : f.kids) conjuncts(k, out);
  } else {
    out.push_back(&f);
  }
}

// covers(b, a) for an `a` that some transaction satisfies. When both are
// conjunctions of operands that each read at most one variable, the
// transactions satisfying `a` are a product over variables (the model's
// variables are independent), so `a` implies `b` exactly when, for every
// operand of `b`, the operands of `a` on that operand's variable imply it:
// a handful of one-variable questions instead of the cross product.
bool covers_satisfiable(Universe& u, const Formula& b, const Formula& a) {
  std::vector<const Formula*> as, bs;
  conjuncts(a, as);
  conjuncts(b, bs);
  std::vector<std::set<int>> avars(as.size());
  for (std::size_t i = 0; i < as.size(); ++i) {
    variables(*as[i], avars[i]);
    if (avars[i].size() > 1) return covers(u, b, a);
  }
  for (const Formula* bj : bs) {
    std::set<int> bvars;
    variables(*bj, bvars);
    if (bvars.size() > 1) return covers(u, b, a);
  }
  for (const Formula* bj : bs) {
    std::set<int> bvars;
    variables(*bj, bvars);
    Formula restricted;  // an empty && is true
    restricted.kind = Formula::Kind::kAnd;
    for (std::size_t i = 0; i < as.size(); ++i) {
      if (!bvars.empty() && avars[i] == bvars) restricted.kids.push_back(*as[i]);
    }
    if (!covers(u, *bj, restricted)) return false;
  }
  return true;
}

struct Blame {
  std::size_t pos = 0;
  bool alone = true;  // the operand alone; else with the operands before it
};

// The sub-expression to blame: for a top-level && (||), an operand that is
// never (always) true alone, else the one that completes the shortest
// never-true (always-true) prefix.
std::optional<Blame> blame(Universe& u, const Formula& root, bool never) {
  const Formula::Kind kind = never ? Formula::Kind::kAnd : Formula::Kind::kOr;
  if (root.kind != kind) return std::nullopt;
  for (const auto& k : root.kids) {
    if (never ? never_true(u, k) : always_true(u, k)) return Blame{k.pos, true};
  }
  Formula prefix;
  prefix.kind = kind;
  for (std::size_t i = 0; i < root.kids.size(); ++i) {
    prefix.kids.push_back(root.kids[i]);
    if (i == 0) continue;
    if (never ? never_true(u, prefix) : always_true(u, prefix)) return Blame{root.kids[i].pos, false};
  }
  return std::nullopt;
}

std::vector<Warning> expression_warnings(Universe& u, const Model& m, const ListExists& list_exists) {
  std::vector<Warning> out;
  if (!m.ok) return out;
  if (never_true(u, m.root)) {
    Warning w;
    w.code = WarningCode::kNeverMatches;
    w.message = "the rule can never match: no value a transaction can have satisfies it";
    if (auto b = blame(u, m.root, true)) {
      w.column = internal::column_of(m.source, b->pos);
      const std::string col = std::to_string(*w.column);
      w.message += b->alone ? " (the condition at column " + col + " can never hold)"
                            : " (the condition at column " + col + " contradicts the conditions before it)";
    }
    out.push_back(std::move(w));
  } else if (always_true(u, m.root)) {
    Warning w;
    w.code = WarningCode::kAlwaysMatches;
    w.message = "the rule matches every transaction";
    if (auto b = blame(u, m.root, false)) {
      w.column = internal::column_of(m.source, b->pos);
      const std::string col = std::to_string(*w.column);
      w.message += b->alone
                       ? " (the condition at column " + col + " always holds)"
                       : " (the alternative at column " + col + " covers every transaction the ones before it leave)";
    }
    out.push_back(std::move(w));
  }
  for (const auto& [name, pos] : m.lists) {
    if (list_exists && list_exists(name)) continue;
    Warning w;
    w.code = WarningCode::kUnknownList;
    w.column = internal::column_of(m.source, pos);
    w.message = "list " + internal::quote(name) + " does not exist: it contains nothing until it is created";
    out.push_back(std::move(w));
  }
  return out;
}

bool precedes(const AnalysisRule& a, const AnalysisRule& b) {
  return a.priority != b.priority ? a.priority < b.priority : a.id < b.id;
}

const char* action_name(AnalysisAction a) {
  switch (a) {
    case AnalysisAction::kDecline:
      return "decline";
    case AnalysisAction::kReview:
      return "review";
    case AnalysisAction::kApprove:
      return "approve";
  }
  return "decline";
}

std::vector<Warning> rule_warnings(Universe& u, const AnalysisRule& rule, const Model& m,
                                   const std::vector<const AnalysisRule*>& others,
                                   const std::vector<const Model*>& other_models, const ListExists& list_exists) {
  std::vector<Warning> out = expression_warnings(u, m, list_exists);
  if (!m.ok || rule.mode == AnalysisMode::kDisabled) return out;
  const bool never = !out.empty() && out.front().code == WarningCode::kNeverMatches;
  if (never) return out;  // covered by anything: not worth a second warning
  std::vector<std::size_t> order(others.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return precedes(*others[a], *others[b]); });
  bool shadowed = false, overridden = false;
  for (std::size_t i : order) {
    const AnalysisRule& b = *others[i];
    const Model& bm = *other_models[i];
    if (!bm.ok || b.id == rule.id || b.mode != AnalysisMode::kEnforce) continue;
    if (!shadowed && b.action == rule.action && precedes(b, rule) && covers_satisfiable(u, bm.root, m.root)) {
      shadowed = true;
      Warning w;
      w.code = WarningCode::kShadowedBy;
      w.rule_id = b.id;
      w.message = "rule " + internal::quote(b.id) + " (" + action_name(b.action) + ", priority " +
                  std::to_string(b.priority) + ") comes first and matches every transaction this rule matches";
      out.push_back(std::move(w));
    }
    if (!overridden && rule.action != AnalysisAction::kApprove && b.action == AnalysisAction::kApprove &&
        covers_satisfiable(u, bm.root, m.root)) {
      overridden = true;
      Warning w;
      w.code = WarningCode::kOverriddenByApprove;
      w.rule_id = b.id;
      w.message = "the approve rule " + internal::quote(b.id) +
                  " matches every transaction this rule matches, and an approve rule wins: this rule never decides";
      out.push_back(std::move(w));
    }
  }
  return out;
}

}  // namespace

std::string_view warning_code_name(WarningCode code) {
  switch (code) {
    case WarningCode::kNeverMatches:
      return "never_matches";
    case WarningCode::kAlwaysMatches:
      return "always_matches";
    case WarningCode::kShadowedBy:
      return "shadowed_by";
    case WarningCode::kUnknownList:
      return "unknown_list";
    case WarningCode::kOverriddenByApprove:
      return "overridden_by_approve";
  }
  return "never_matches";
}

ExpressionCheck check_expression(std::string_view expression, const ListExists& list_exists) {
  Universe u;
  Model m = build_model(expression, u);
  ExpressionCheck out;
  if (!m.ok) {
    out.error = m.error;
    return out;
  }
  out.warnings = expression_warnings(u, m, list_exists);
  return out;
}

std::vector<Warning> analyze_rule(const AnalysisRule& rule, std::span<const AnalysisRule> others,
                                  const ListExists& list_exists) {
  Universe u;
  Model m = build_model(rule.expression, u);
  std::vector<Model> models;
  models.reserve(others.size());
  std::vector<const AnalysisRule*> rs;
  std::vector<const Model*> ms;
  for (const auto& o : others) {
    if (o.id == rule.id) continue;
    models.push_back(build_model(o.expression, u));
    rs.push_back(&o);
  }
  for (const auto& x : models) ms.push_back(&x);
  return rule_warnings(u, rule, m, rs, ms, list_exists);
}

std::vector<RuleWarning> analyze_rule_set(std::span<const AnalysisRule> rules, const ListExists& list_exists) {
  Universe u;
  std::vector<Model> models;
  models.reserve(rules.size());
  for (const auto& r : rules) models.push_back(build_model(r.expression, u));
  std::vector<RuleWarning> out;
  for (std::size_t i = 0; i < rules.size(); ++i) {
    std::vector<const AnalysisRule*> rs;
    std::vector<const Model*> ms;
    for (std::size_t j = 0; j < rules.size(); ++j) {
      if (j == i) continue;
      rs.push_back(&rules[j]);
      ms.push_back(&models[j]);
    }
    for (auto& w : rule_warnings(u, rules[i], models[i], rs, ms, list_exists)) {
      out.push_back({rules[i].id, std::move(w)});
    }
  }
  return out;
}

}  // namespace txv::rules
