// Abstract syntax tree of an expression. Internal to txv_rules.
//
// The parser builds it (untyped); the checker annotates every node with its
// Type and resolves names (fields, metadata keys, velocity and list
// references) into Ref; the compiler reads the annotated tree. The tree height
// is bounded by kMaxDepth, so the recursive passes have bounded stack use.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "rules/fields.h"

namespace txv::rules::internal {

// Maximum nesting of the tree (parentheses, operators, calls). Chains of the
// same && or || operator are flattened and do not count per operand.
inline constexpr int kMaxDepth = 100;

enum class NodeKind : std::uint8_t {
  kInt,     // int_value
  kString,  // text
  kBool,    // bool_value
  kList,    // [args...]
  kIdent,   // text
  kSelect,  // args[0].text
  kIndex,   // args[0][args[1]]
  kCall,    // text(args...)
  kMethod,  // args[0].text(args[1...])
  kNot,     // !args[0]
  kNeg,     // -args[0]
  kBinary,  // args[0] op args[1]
  kAnd,     // args[0] && args[1] && ... (two or more)
  kOr,      // args[0] || args[1] || ... (two or more)
};

enum class BinaryOp : std::uint8_t { kEq, kNe, kLt, kLe, kGt, kGe, kIn, kAdd, kSub, kMul, kDiv, kMod };

// The operator as written in expressions ("==", "in", "%", ...).
const char* op_spelling(BinaryOp op);

enum class TypeKind : std::uint8_t {
  kUnknown,  // not checked yet
  kInt,
  kString,
  kBool,
  kList,       // list literal; Type::elem says of what
  kNamedList,  // list('NAME'): only valid on the right of `in`
  kVelocity,   // velocity(KEY, WINDOW): only valid before .count / .amount
  kEmpty,      // element type of [] (compatible with any scalar)
};

struct Type {
  TypeKind kind = TypeKind::kUnknown;
  TypeKind elem = TypeKind::kUnknown;  // kList only
  bool operator==(const Type&) const = default;
  bool scalar() const { return kind == TypeKind::kInt || kind == TypeKind::kString || kind == TypeKind::kBool; }
};

// "int", "string", "bool", "list(string)", "named list", "velocity".
std::string type_name(Type t);
std::string type_name(TypeKind k);

// What a name resolved to (filled by the checker on kIdent/kSelect/kIndex/kCall).
enum class RefKind : std::uint8_t { kNone, kField, kMetadata, kVelocityCount, kVelocityAmount, kNamedList, kVelocity };

struct Ref {
  RefKind kind = RefKind::kNone;
  Field field = Field::kAmount;  // kField
  std::uint32_t slot = 0;        // kMetadata / kVelocity* / kNamedList: local slot
};

struct Node {
  NodeKind kind = NodeKind::kInt;
  BinaryOp op = BinaryOp::kEq;
  std::size_t pos = 0;  // anchor: operator, literal, or name (byte offset)
  int height = 1;
  std::int64_t int_value = 0;
  bool bool_value = false;
  // kInt: the literal was 9223372036854775808 (2^63), valid only when negated;
  // int_value holds INT64_MIN. The parser clears it when folding a unary minus,
  // the checker rejects any that remain.
  bool literal_2_63 = false;
  std::string text;
  std::vector<std::unique_ptr<Node>> args;
  // Filled by the checker.
  Type type;
  Ref ref;
};

using NodePtr = std::unique_ptr<Node>;

// S-expression of the tree, for tests and debugging: "(&& (> amount 100) (== currency 'USD'))".
std::string debug_string(const Node& node);

// The expression in the language's own syntax, normalised (single-quoted
// strings, one space around binary operators, ", " between arguments,
// parentheses only where a child binds looser): "velocity('card', '1h').count",
// "card.bin in list('risky_bins')". Used to name the values of a decision
// trace; parsing it gives the same tree.
std::string source_text(const Node& node);
// Byte offset where the node's text starts in the source (its leftmost anchor).
std::size_t start_pos(const Node& node);

}  // namespace txv::rules::internal
