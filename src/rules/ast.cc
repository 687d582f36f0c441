#include "rules/ast.h"

#include <algorithm>
#include <string_view>

#include "rules/diagnostics.h"

namespace txv::rules::internal {

const char* op_spelling(BinaryOp op) {
  switch (op) {
    case BinaryOp::kEq:
      return "==";
    case BinaryOp::kNe:
      return "!=";
    case BinaryOp::kLt:
      return "<";
    case BinaryOp::kLe:
      return "<=";
    case BinaryOp::kGt:
      return ">";
    case BinaryOp::kGe:
      return ">=";
    case BinaryOp::kIn:
      return "in";
    case BinaryOp::kAdd:
      return "+";
    case BinaryOp::kSub:
      return "-";
    case BinaryOp::kMul:
      return "*";
    case BinaryOp::kDiv:
      return "/";
    case BinaryOp::kMod:
      return "%";
  }
  return "?";
}

namespace {

void append(std::string& out, const Node& n);

void append_args(std::string& out, const Node& n, std::size_t from) {
  for (std::size_t i = from; i < n.args.size(); ++i) {
    out.push_back(' ');
    append(out, *n.args[i]);
  }
}

void append(std::string& out, const Node& n) {
  switch (n.kind) {
    case NodeKind::kInt:
      out.append(std::to_string(n.int_value));
      return;
    case NodeKind::kString:
      out.append(quote(n.text));
      return;
    case NodeKind::kBool:
      out.append(n.bool_value ? "true" : "false");
      return;
    case NodeKind::kIdent:
      out.append(n.text);
      return;
    case NodeKind::kList:
      out.append("[list");
      append_args(out, n, 0);
      out.push_back(']');
      return;
    case NodeKind::kSelect:
      out.append("(. ");
      append(out, *n.args[0]);
      out.push_back(' ');
      out.append(n.text);
      out.push_back(')');
      return;
    case NodeKind::kIndex:
      out.append("([] ");
      append(out, *n.args[0]);
      out.push_back(' ');
      append(out, *n.args[1]);
      out.push_back(')');
      return;
    case NodeKind::kCall:
      out.append("(call ");
      out.append(n.text);
      append_args(out, n, 0);
      out.push_back(')');
      return;
    case NodeKind::kMethod:
      out.append("(method ");
      out.append(n.text);
      append_args(out, n, 0);
      out.push_back(')');
      return;
    case NodeKind::kNot:
    case NodeKind::kNeg:
      out.append(n.kind == NodeKind::kNot ? "(! " : "(- ");
      append(out, *n.args[0]);
      out.push_back(')');
      return;
    case NodeKind::kBinary:
      out.push_back('(');
      out.append(op_spelling(n.op));
      append_args(out, n, 0);
      out.push_back(')');
      return;
    case NodeKind::kAnd:
    case NodeKind::kOr:
      out.append(n.kind == NodeKind::kAnd ? "(&&" : "(||");
      append_args(out, n, 0);
      out.push_back(')');
      return;
  }
}

// Binding strength, as in the parser: || < && < comparisons and `in` < + - < * / % < unary < postfix and primary.
int precedence(const Node& n) {
  switch (n.kind) {
    case NodeKind::kOr:
      return 1;
    case NodeKind::kAnd:
      return 2;
    case NodeKind::kBinary:
      switch (n.op) {
        case BinaryOp::kAdd:
        case BinaryOp::kSub:
          return 4;
        case BinaryOp::kMul:
        case BinaryOp::kDiv:
        case BinaryOp::kMod:
          return 5;
        default:
          return 3;
      }
    case NodeKind::kNot:
    case NodeKind::kNeg:
      return 6;
    default:
      return 7;
  }
}

void append_string_literal(std::string& out, std::string_view s) {
  out.push_back('\'');
  for (const char c : s) {
    switch (c) {
      case '\'':
        out.append("\\'");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\t':
        out.append("\\t");
        break;
      case '\r':
        out.append("\\r");
        break;
      default:
        out.push_back(c);
    }
  }
  out.push_back('\'');
}

void append_source(std::string& out, const Node& n);

void append_child(std::string& out, const Node& child, bool parenthesise) {
  if (parenthesise) out.push_back('(');
  append_source(out, child);
  if (parenthesise) out.push_back(')');
}

void append_call_args(std::string& out, const Node& n, std::size_t from) {
  out.push_back('(');
  for (std::size_t i = from; i < n.args.size(); ++i) {
    if (i > from) out.append(", ");
    append_source(out, *n.args[i]);
  }
  out.push_back(')');
}

void append_source(std::string& out, const Node& n) {
  const int prec = precedence(n);
  switch (n.kind) {
    case NodeKind::kInt:
      out.append(std::to_string(n.int_value));
      return;
    case NodeKind::kString:
      append_string_literal(out, n.text);
      return;
    case NodeKind::kBool:
      out.append(n.bool_value ? "true" : "false");
      return;
    case NodeKind::kIdent:
      out.append(n.text);
      return;
    case NodeKind::kList:
      out.push_back('[');
      for (std::size_t i = 0; i < n.args.size(); ++i) {
        if (i > 0) out.append(", ");
        append_source(out, *n.args[i]);
      }
      out.push_back(']');
      return;
    case NodeKind::kSelect:
      append_child(out, *n.args[0], precedence(*n.args[0]) < prec);
      out.push_back('.');
      out.append(n.text);
      return;
    case NodeKind::kIndex:
      append_child(out, *n.args[0], precedence(*n.args[0]) < prec);
      out.push_back('[');
      append_source(out, *n.args[1]);
      out.push_back(']');
      return;
    case NodeKind::kCall:
      out.append(n.text);
      append_call_args(out, n, 0);
      return;
    case NodeKind::kMethod:
      append_child(out, *n.args[0], precedence(*n.args[0]) < prec);
      out.push_back('.');
      out.append(n.text);
      append_call_args(out, n, 1);
      return;
    case NodeKind::kNot:
    case NodeKind::kNeg:
      out.push_back(n.kind == NodeKind::kNot ? '!' : '-');
      append_child(out, *n.args[0], precedence(*n.args[0]) <= prec);
      return;
    case NodeKind::kBinary:
      append_child(out, *n.args[0], precedence(*n.args[0]) < prec || (prec == 3 && precedence(*n.args[0]) == 3));
      out.push_back(' ');
      out.append(op_spelling(n.op));
      out.push_back(' ');
      append_child(out, *n.args[1], precedence(*n.args[1]) <= prec);
      return;
    case NodeKind::kAnd:
    case NodeKind::kOr:
      for (std::size_t i = 0; i < n.args.size(); ++i) {
        if (i > 0) out.append(n.kind == NodeKind::kAnd ? " && " : " || ");
        append_child(out, *n.args[i], precedence(*n.args[i]) <= prec);
      }
      return;
  }
}

}  // namespace

std::string source_text(const Node& node) {
  std::string out;
  append_source(out, node);
  return out;
}

std::size_t start_pos(const Node& node) {
  std::size_t pos = node.pos;
  for (const auto& a : node.args) {
    pos = std::min(pos, start_pos(*a));
  }
  return pos;
}

std::string type_name(TypeKind k) {
  switch (k) {
    case TypeKind::kUnknown:
      return "unknown";
    case TypeKind::kInt:
      return "int";
    case TypeKind::kString:
      return "string";
    case TypeKind::kBool:
      return "bool";
    case TypeKind::kList:
      return "list";
    case TypeKind::kNamedList:
      return "named list";
    case TypeKind::kVelocity:
      return "velocity";
    case TypeKind::kEmpty:
      return "empty";
  }
  return "unknown";
}

std::string type_name(Type t) {
  if (t.kind == TypeKind::kList) {
    if (t.elem == TypeKind::kEmpty) {
      return "empty list";
    }
    return "list(" + type_name(t.elem) + ")";
  }
  return type_name(t.kind);
}

std::string debug_string(const Node& node) {
  std::string out;
  append(out, node);
  return out;
}

}  // namespace txv::rules::internal
