#include "rules/ast.h"

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

}  // namespace

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
