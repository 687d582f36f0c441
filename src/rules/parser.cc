#include "rules/parser.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "rules/diagnostics.h"
#include "rules/lexer.h"

namespace txv::rules::internal {
namespace {

constexpr std::uint64_t k2Pow63 = 9223372036854775808ULL;

int precedence(Tok t) {
  switch (t) {
    case Tok::kOr:
      return 1;
    case Tok::kAnd:
      return 2;
    case Tok::kEq:
    case Tok::kNe:
    case Tok::kLt:
    case Tok::kLe:
    case Tok::kGt:
    case Tok::kGe:
    case Tok::kIn:
      return 3;
    case Tok::kPlus:
    case Tok::kMinus:
      return 4;
    case Tok::kStar:
    case Tok::kSlash:
    case Tok::kPercent:
      return 5;
    default:
      return 0;
  }
}

BinaryOp binary_op(Tok t) {
  switch (t) {
    case Tok::kEq:
      return BinaryOp::kEq;
    case Tok::kNe:
      return BinaryOp::kNe;
    case Tok::kLt:
      return BinaryOp::kLt;
    case Tok::kLe:
      return BinaryOp::kLe;
    case Tok::kGt:
      return BinaryOp::kGt;
    case Tok::kGe:
      return BinaryOp::kGe;
    case Tok::kIn:
      return BinaryOp::kIn;
    case Tok::kPlus:
      return BinaryOp::kAdd;
    case Tok::kMinus:
      return BinaryOp::kSub;
    case Tok::kStar:
      return BinaryOp::kMul;
    case Tok::kSlash:
      return BinaryOp::kDiv;
    default:
      return BinaryOp::kMod;
  }
}

NodePtr make_node(NodeKind kind, std::size_t pos) {
  auto n = std::make_unique<Node>();
  n->kind = kind;
  n->pos = pos;
  return n;
}

class Parser {
 public:
  explicit Parser(std::string_view src) : src_(src), lexer_(src) {}

  ParseResult run() {
    ParseResult result;
    if (std::all_of(src_.begin(), src_.end(), [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; })) {
      result.error = make_error(src_, 0, "empty expression", "(write a condition, e.g. amount > 10000)");
      return result;
    }
    if (advance()) {
      NodePtr root = parse_expr(1);
      if (root && tok_.kind != Tok::kEnd) {
        fail_unexpected_trailing();
      } else if (root) {
        result.root = std::move(root);
      }
    }
    result.error = std::move(error_);
    if (result.error) {
      result.root.reset();
    }
    return result;
  }

 private:
  // Reads the next token; false (with error_ set) on a lexical error.
  bool advance() {
    tok_ = lexer_.next();
    if (tok_.kind == Tok::kError) {
      if (!error_) {
        error_ = lexer_.error();
      }
      return false;
    }
    return true;
  }

  std::nullptr_t fail(std::size_t pos, std::string_view what, std::string_view hint = {}) {
    if (!error_) {
      error_ = make_error(src_, pos, what, hint);
    }
    return nullptr;
  }

  std::nullptr_t fail_expected(std::string_view expected) {
    return fail(tok_.pos, "expected " + std::string(expected), "(found " + describe(src_, tok_) + ")");
  }

  void fail_unexpected_trailing() {
    std::string hint;
    if (tok_.kind == Tok::kIdent) {
      if (tok_.text == "and" || tok_.text == "AND") {
        hint = "(did you mean '&&'?)";
      }
      if (tok_.text == "or" || tok_.text == "OR") {
        hint = "(did you mean '||'?)";
      }
    }
    if (hint.empty()) {
      hint = "(expected an operator or the end of the expression)";
    }
    fail(tok_.pos, "unexpected " + describe(src_, tok_), hint);
  }

  // Records the node's height and rejects trees taller than kMaxDepth.
  NodePtr finish(NodePtr n) {
    int h = 0;
    for (const auto& a : n->args) {
      h = std::max(h, a->height);
    }
    n->height = h + 1;
    if (n->height > kMaxDepth) {
      return too_deep(n->pos);
    }
    return n;
  }

  std::nullptr_t too_deep(std::size_t pos) {
    return fail(pos, "expression is nested too deeply",
                "(more than " + std::to_string(kMaxDepth) + " levels; simplify it or split it into several rules)");
  }

  bool enter(std::size_t pos) {
    if (++depth_ > kMaxDepth) {
      too_deep(pos);
      return false;
    }
    return true;
  }

  NodePtr parse_expr(int min_prec) {
    if (!enter(tok_.pos)) {
      return nullptr;
    }
    NodePtr lhs = parse_unary();
    while (lhs) {
      const Tok t = tok_.kind;
      const int p = precedence(t);
      if (p == 0 || p < min_prec) {
        break;
      }
      const std::size_t op_pos = tok_.pos;
      if (!advance()) {
        return nullptr;
      }
      NodePtr rhs = parse_expr(p + 1);
      if (!rhs) {
        return nullptr;
      }
      if (t == Tok::kAnd || t == Tok::kOr) {
        const NodeKind kind = t == Tok::kAnd ? NodeKind::kAnd : NodeKind::kOr;
        if (lhs->kind == kind) {
          // Incremental height update: recomputing over all operands would be
          // quadratic in the length of the chain.
          lhs->height = std::max(lhs->height, rhs->height + 1);
          lhs->args.push_back(std::move(rhs));
          if (lhs->height > kMaxDepth) {
            return too_deep(lhs->pos);
          }
          continue;
        }
        NodePtr n = make_node(kind, op_pos);
        n->args.push_back(std::move(lhs));
        n->args.push_back(std::move(rhs));
        lhs = finish(std::move(n));
        continue;
      }
      NodePtr n = make_node(NodeKind::kBinary, op_pos);
      n->op = binary_op(t);
      n->args.push_back(std::move(lhs));
      n->args.push_back(std::move(rhs));
      lhs = finish(std::move(n));
    }
    --depth_;
    return lhs;
  }

  NodePtr parse_unary() {
    if (tok_.kind != Tok::kBang && tok_.kind != Tok::kMinus) {
      return parse_postfix();
    }
    const bool is_not = tok_.kind == Tok::kBang;
    const std::size_t pos = tok_.pos;
    if (!advance()) {
      return nullptr;
    }
    if (!enter(pos)) {
      return nullptr;
    }
    NodePtr operand = parse_unary();
    --depth_;
    if (!operand) {
      return nullptr;
    }
    if (!is_not && operand->kind == NodeKind::kInt) {
      // Fold -<literal>, so that INT64_MIN can be written.
      if (operand->literal_2_63) {
        operand->literal_2_63 = false;
        operand->pos = pos;
        return operand;
      }
      if (operand->int_value != std::numeric_limits<std::int64_t>::min()) {
        operand->int_value = -operand->int_value;
        operand->pos = pos;
        return operand;
      }
    }
    NodePtr n = make_node(is_not ? NodeKind::kNot : NodeKind::kNeg, pos);
    n->args.push_back(std::move(operand));
    return finish(std::move(n));
  }

  NodePtr parse_postfix() {
    NodePtr node = parse_primary();
    while (node) {
      if (tok_.kind == Tok::kDot) {
        if (!advance()) {
          return nullptr;
        }
        // Keywords are fine as member names (metadata.in).
        if (tok_.kind != Tok::kIdent && tok_.kind != Tok::kTrue && tok_.kind != Tok::kFalse && tok_.kind != Tok::kIn) {
          return fail(tok_.pos, "expected a field or method name after '.'", "(found " + describe(src_, tok_) + ")");
        }
        const std::size_t name_pos = tok_.pos;
        std::string name(src_.substr(tok_.pos, tok_.end - tok_.pos));
        if (!advance()) {
          return nullptr;
        }
        NodePtr n;
        if (tok_.kind == Tok::kLParen) {
          n = make_node(NodeKind::kMethod, name_pos);
          n->args.push_back(std::move(node));
          if (!parse_args(*n)) {
            return nullptr;
          }
        } else {
          n = make_node(NodeKind::kSelect, name_pos);
          n->args.push_back(std::move(node));
        }
        n->text = std::move(name);
        node = finish(std::move(n));
      } else if (tok_.kind == Tok::kLBracket) {
        NodePtr n = make_node(NodeKind::kIndex, tok_.pos);
        if (!advance()) {
          return nullptr;
        }
        NodePtr index = parse_expr(1);
        if (!index) {
          return nullptr;
        }
        if (tok_.kind != Tok::kRBracket) {
          return fail_expected("']'");
        }
        if (!advance()) {
          return nullptr;
        }
        n->args.push_back(std::move(node));
        n->args.push_back(std::move(index));
        node = finish(std::move(n));
      } else {
        break;
      }
    }
    return node;
  }

  // Parses "(a, b, ...)" starting at '(' and appends the arguments to n.args.
  bool parse_args(Node& n) {
    if (!advance()) {
      return false;  // '('
    }
    if (tok_.kind == Tok::kRParen) {
      return advance();
    }
    while (true) {
      NodePtr arg = parse_expr(1);
      if (!arg) {
        return false;
      }
      n.args.push_back(std::move(arg));
      if (tok_.kind == Tok::kComma) {
        if (!advance()) {
          return false;
        }
        continue;
      }
      if (tok_.kind == Tok::kRParen) {
        return advance();
      }
      fail_expected("',' or ')'");
      return false;
    }
  }

  NodePtr parse_primary() {
    switch (tok_.kind) {
      case Tok::kInt: {
        NodePtr n = make_node(NodeKind::kInt, tok_.pos);
        if (tok_.magnitude == k2Pow63) {
          n->literal_2_63 = true;
          n->int_value = std::numeric_limits<std::int64_t>::min();
        } else {
          n->int_value = static_cast<std::int64_t>(tok_.magnitude);
        }
        if (!advance()) {
          return nullptr;
        }
        return n;
      }
      case Tok::kString: {
        NodePtr n = make_node(NodeKind::kString, tok_.pos);
        n->text = std::move(tok_.text);
        if (!advance()) {
          return nullptr;
        }
        return n;
      }
      case Tok::kTrue:
      case Tok::kFalse: {
        NodePtr n = make_node(NodeKind::kBool, tok_.pos);
        n->bool_value = tok_.kind == Tok::kTrue;
        if (!advance()) {
          return nullptr;
        }
        return n;
      }
      case Tok::kLParen: {
        if (!advance()) {
          return nullptr;
        }
        NodePtr e = parse_expr(1);
        if (!e) {
          return nullptr;
        }
        if (tok_.kind != Tok::kRParen) {
          return fail_expected("')'");
        }
        if (!advance()) {
          return nullptr;
        }
        return e;
      }
      case Tok::kLBracket: {
        NodePtr n = make_node(NodeKind::kList, tok_.pos);
        if (!advance()) {
          return nullptr;
        }
        while (tok_.kind != Tok::kRBracket) {
          NodePtr e = parse_expr(1);
          if (!e) {
            return nullptr;
          }
          n->args.push_back(std::move(e));
          if (tok_.kind == Tok::kComma) {
            if (!advance()) {
              return nullptr;
            }
            continue;  // a trailing comma is allowed
          }
          if (tok_.kind != Tok::kRBracket) {
            return fail_expected("',' or ']'");
          }
        }
        if (!advance()) {
          return nullptr;
        }
        return finish(std::move(n));
      }
      case Tok::kIdent: {
        const std::size_t pos = tok_.pos;
        std::string name = std::move(tok_.text);
        if (!advance()) {
          return nullptr;
        }
        if (tok_.kind == Tok::kLParen) {
          NodePtr n = make_node(NodeKind::kCall, pos);
          n->text = std::move(name);
          if (!parse_args(*n)) {
            return nullptr;
          }
          return finish(std::move(n));
        }
        NodePtr n = make_node(NodeKind::kIdent, pos);
        n->text = std::move(name);
        return n;
      }
      case Tok::kEnd:
        return fail(tok_.pos, "unexpected end of expression", "(expected a value)");
      default:
        return fail(tok_.pos, "unexpected " + describe(src_, tok_), "(expected a value)");
    }
  }

  std::string_view src_;
  Lexer lexer_;
  Token tok_;
  std::optional<CompileError> error_;
  int depth_ = 0;
};

}  // namespace

ParseResult parse(std::string_view src) { return Parser(src).run(); }

}  // namespace txv::rules::internal
