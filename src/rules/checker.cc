#include "rules/checker.h"

#include <algorithm>
#include <array>
#include <utility>

#include "rules/diagnostics.h"

namespace txv::rules::internal {
namespace {

constexpr std::array<std::string_view, 3> kFunctions = {"size", "velocity", "list"};
constexpr std::array<std::string_view, 4> kMethods = {"startsWith", "endsWith", "contains", "size"};

std::vector<std::string_view> all_field_names() {
  std::vector<std::string_view> out;
  out.reserve(kFieldCount);
  for (std::size_t i = 0; i < kFieldCount; ++i) {
    out.push_back(field_name(static_cast<Field>(i)));
  }
  return out;
}

std::vector<std::string_view> all_velocity_keys() {
  std::vector<std::string_view> out;
  for (std::size_t i = 0; i < kVelocityKeyCount; ++i) {
    out.push_back(velocity_key_name(static_cast<VelocityKey>(i)));
  }
  return out;
}

// Byte offset where the text of a subexpression begins.
std::size_t start_of(const Node& n) {
  switch (n.kind) {
    case NodeKind::kSelect:
    case NodeKind::kIndex:
    case NodeKind::kMethod:
    case NodeKind::kBinary:
    case NodeKind::kAnd:
    case NodeKind::kOr:
      return std::min(n.pos, start_of(*n.args[0]));
    default:
      return n.pos;
  }
}

class Checker {
 public:
  explicit Checker(std::string_view src) : src_(src) {}

  CheckResult run(Node& root) {
    CheckResult result;
    if (check_value(root) && root.type.kind != TypeKind::kBool) {
      fail(start_of(root), "the expression must be a condition (bool), but it is " + type_name(root.type),
           "(compare it with something, e.g. amount > 10000)");
    }
    result.error = std::move(error_);
    result.refs = std::move(refs_);
    return result;
  }

 private:
  bool fail(std::size_t pos, std::string_view what, std::string_view hint = {}) {
    if (!error_) {
      error_ = make_error(src_, pos, what, hint);
    }
    return false;
  }

  // Checks n and requires a scalar (int, string or bool).
  bool check_value(Node& n) {
    if (!check(n)) {
      return false;
    }
    switch (n.type.kind) {
      case TypeKind::kInt:
      case TypeKind::kString:
      case TypeKind::kBool:
        return true;
      case TypeKind::kList:
        return fail(start_of(n), "a list can only be used on the right of 'in' or as the argument of size()");
      case TypeKind::kNamedList:
        return fail(start_of(n), "list('NAME') can only be used on the right of 'in'",
                    "(e.g. card.bin in list('blocked_bins'))");
      case TypeKind::kVelocity:
        return fail(n.pos, "velocity(...) must be followed by .count or .amount",
                    "(e.g. velocity('card', '1h').count > 3)");
      default:
        return fail(start_of(n), "internal error: untyped expression");
    }
  }

  bool check(Node& n) {
    switch (n.kind) {
      case NodeKind::kInt:
        if (n.literal_2_63) {
          return fail(n.pos, "integer literal '9223372036854775808' is out of range", "(integers are 64-bit)");
        }
        n.type = {TypeKind::kInt};
        return true;
      case NodeKind::kString:
        n.type = {TypeKind::kString};
        return true;
      case NodeKind::kBool:
        n.type = {TypeKind::kBool};
        return true;
      case NodeKind::kList:
        return check_list(n);
      case NodeKind::kIdent:
      case NodeKind::kSelect:
      case NodeKind::kIndex:
        return check_path(n);
      case NodeKind::kCall:
        return check_call(n);
      case NodeKind::kMethod:
        return check_method(n);
      case NodeKind::kNot:
        if (!check_value(*n.args[0])) {
          return false;
        }
        if (n.args[0]->type.kind != TypeKind::kBool) {
          return fail(n.pos, "operator '!' needs a bool operand, got " + type_name(n.args[0]->type));
        }
        n.type = {TypeKind::kBool};
        return true;
      case NodeKind::kNeg:
        if (!check_value(*n.args[0])) {
          return false;
        }
        if (n.args[0]->type.kind != TypeKind::kInt) {
          return fail(n.pos, "unary '-' needs an int operand, got " + type_name(n.args[0]->type));
        }
        n.type = {TypeKind::kInt};
        return true;
      case NodeKind::kAnd:
      case NodeKind::kOr:
        for (auto& a : n.args) {
          if (!check_value(*a)) {
            return false;
          }
          if (a->type.kind != TypeKind::kBool) {
            return fail(start_of(*a), std::string("operator '") + (n.kind == NodeKind::kAnd ? "&&" : "||") +
                                          "' needs bool operands, got " + type_name(a->type));
          }
        }
        n.type = {TypeKind::kBool};
        return true;
      case NodeKind::kBinary:
        return check_binary(n);
    }
    return fail(n.pos, "internal error: unknown node");
  }

  bool check_list(Node& n) {
    TypeKind elem = TypeKind::kEmpty;
    for (std::size_t i = 0; i < n.args.size(); ++i) {
      Node& e = *n.args[i];
      if (!check(e)) {
        return false;
      }
      if (!e.type.scalar()) {
        return fail(start_of(e), "list elements must be ints, strings or bools, got " + type_name(e.type));
      }
      if (i == 0) {
        elem = e.type.kind;
      } else if (e.type.kind != elem) {
        return fail(start_of(e), "list elements must all have the same type: element " + std::to_string(i + 1) +
                                     " is " + type_name(e.type) + ", element 1 is " + type_name(elem));
      }
    }
    n.type = {TypeKind::kList, elem};
    return true;
  }

  bool check_binary(Node& n) {
    Node& l = *n.args[0];
    Node& r = *n.args[1];
    const std::string op = op_spelling(n.op);
    if (n.op == BinaryOp::kIn) {
      if (!check_value(l) || !check(r)) {
        return false;
      }
      if (r.type.kind == TypeKind::kNamedList) {
        if (l.type.kind != TypeKind::kString) {
          return fail(n.pos, "'in list(...)' needs a string on the left, got " + type_name(l.type),
                      "(named lists hold strings)");
        }
      } else if (r.type.kind == TypeKind::kList) {
        if (r.type.elem != TypeKind::kEmpty && r.type.elem != l.type.kind) {
          return fail(n.pos, "'in' cannot look for " + type_name(l.type) + " in a " + type_name(r.type));
        }
      } else {
        return fail(start_of(r), "'in' needs a list on the right, got " + type_name(r.type),
                    "(write x in ['a', 'b'] or x in list('NAME'))");
      }
      n.type = {TypeKind::kBool};
      return true;
    }
    if (!check_value(l) || !check_value(r)) {
      return false;
    }
    switch (n.op) {
      case BinaryOp::kEq:
      case BinaryOp::kNe:
        if (l.type.kind != r.type.kind) {
          return fail(n.pos, "cannot compare " + type_name(l.type) + " with " + type_name(r.type));
        }
        n.type = {TypeKind::kBool};
        return true;
      case BinaryOp::kLt:
      case BinaryOp::kLe:
      case BinaryOp::kGt:
      case BinaryOp::kGe:
        if (l.type.kind != r.type.kind) {
          return fail(n.pos, "cannot compare " + type_name(l.type) + " with " + type_name(r.type));
        }
        if (l.type.kind == TypeKind::kBool) {
          return fail(n.pos, "cannot order bool values with '" + op + "'", "(use == or !=)");
        }
        n.type = {TypeKind::kBool};
        return true;
      default:
        if (l.type.kind != TypeKind::kInt || r.type.kind != TypeKind::kInt) {
          return fail(n.pos, "operator '" + op + "' needs int operands, got " + type_name(l.type) + " and " +
                                 type_name(r.type));
        }
        n.type = {TypeKind::kInt};
        return true;
    }
  }

  bool check_call(Node& n) {
    if (n.text == "size") {
      if (n.args.size() != 1) {
        return fail(n.pos, "size() takes 1 argument, got " + std::to_string(n.args.size()));
      }
      Node& a = *n.args[0];
      if (!check(a)) {
        return false;
      }
      if (a.type.kind != TypeKind::kString && a.type.kind != TypeKind::kList) {
        if (a.type.kind == TypeKind::kVelocity || a.type.kind == TypeKind::kNamedList) {
          return check_value(a);
        }
        return fail(start_of(a), "size() expects a string or a list, got " + type_name(a.type));
      }
      n.type = {TypeKind::kInt};
      return true;
    }
    if (n.text == "velocity") {
      return check_velocity(n);
    }
    if (n.text == "list") {
      return check_named_list(n);
    }
    if (n.text == "startsWith" || n.text == "endsWith" || n.text == "contains") {
      return fail(n.pos, "unknown function " + quote(n.text),
                  "(it is a method: write s." + n.text + "(x), e.g. card.bin." + n.text + "('4242'))");
    }
    return fail(n.pos, "unknown function " + quote(n.text), did_you_mean(n.text, kFunctions));
  }

  // Requires a string literal argument; returns it or nullptr (error set).
  const std::string* literal_arg(Node& a, std::string_view what) {
    if (a.kind != NodeKind::kString) {
      fail(start_of(a), std::string(what) + " must be a string literal", "(values are checked when the rule is saved)");
      return nullptr;
    }
    a.type = {TypeKind::kString};
    return &a.text;
  }

  bool check_velocity(Node& n) {
    if (n.args.size() != 2) {
      return fail(n.pos, "velocity() takes 2 arguments (key, window), got " + std::to_string(n.args.size()),
                  "(e.g. velocity('card', '1h'))");
    }
    const std::string* key = literal_arg(*n.args[0], "the velocity key");
    if (key == nullptr) {
      return false;
    }
    const auto k = velocity_key_from_name(*key);
    if (!k) {
      const auto keys = all_velocity_keys();
      std::string hint = did_you_mean(*key, keys);
      if (hint.empty()) {
        hint = "(expected one of 'card', 'customer', 'email', 'ip', 'device', 'merchant')";
      }
      return fail(n.args[0]->pos, "unknown velocity key " + quote(*key), hint);
    }
    const std::string* window = literal_arg(*n.args[1], "the velocity window");
    if (window == nullptr) {
      return false;
    }
    const auto seconds = parse_duration_seconds(*window);
    if (!seconds) {
      return fail(n.args[1]->pos, "invalid velocity window " + quote(*window),
                  "(write a duration such as '30s', '10m', '1h', '24h' or '7d')");
    }
    if (*seconds < kMinVelocityWindowSeconds) {
      return fail(n.args[1]->pos, "velocity window " + quote(*window) + " is shorter than 1 second");
    }
    if (*seconds > kMaxVelocityWindowSeconds) {
      return fail(n.args[1]->pos, "velocity window " + quote(*window) + " is longer than 30 days");
    }
    const VelocitySpec spec{*k, *seconds};
    auto& v = refs_.velocities;
    auto it = std::find(v.begin(), v.end(), spec);
    n.ref.kind = RefKind::kVelocity;
    n.ref.slot = static_cast<std::uint32_t>(it - v.begin());
    if (it == v.end()) {
      v.push_back(spec);
    }
    n.type = {TypeKind::kVelocity};
    return true;
  }

  bool check_named_list(Node& n) {
    if (n.args.size() != 1) {
      return fail(n.pos, "list() takes 1 argument (the list's name), got " + std::to_string(n.args.size()));
    }
    const std::string* name = literal_arg(*n.args[0], "the list name");
    if (name == nullptr) {
      return false;
    }
    if (name->empty()) {
      return fail(n.args[0]->pos, "the list name must not be empty");
    }
    n.ref.kind = RefKind::kNamedList;
    n.ref.slot = intern(refs_.list_names, *name);
    n.type = {TypeKind::kNamedList};
    return true;
  }

  bool check_method(Node& n) {
    Node& recv = *n.args[0];
    const std::size_t argc = n.args.size() - 1;
    const bool is_string_method = n.text == "startsWith" || n.text == "endsWith" || n.text == "contains";
    if (!is_string_method && n.text != "size") {
      if (recv.kind == NodeKind::kCall && recv.text == "velocity" && (n.text == "count" || n.text == "amount")) {
        return fail(n.pos, quote(n.text) + " is a field, not a method",
                    "(write velocity(...)." + n.text + " without parentheses)");
      }
      return fail(n.pos, "unknown method " + quote(n.text), did_you_mean(n.text, kMethods));
    }
    if (!check(recv)) {
      return false;
    }
    if (n.text == "size") {
      if (argc != 0) {
        return fail(n.pos, "size() as a method takes no arguments, got " + std::to_string(argc));
      }
      if (recv.type.kind != TypeKind::kString && recv.type.kind != TypeKind::kList) {
        if (!check_value(recv)) {
          return false;
        }
        return fail(start_of(recv), "size() expects a string or a list, got " + type_name(recv.type));
      }
      n.type = {TypeKind::kInt};
      return true;
    }
    if (!check_value(recv)) {
      return false;
    }
    if (recv.type.kind != TypeKind::kString) {
      return fail(start_of(recv), n.text + "() needs a string on the left of '.', got " + type_name(recv.type));
    }
    if (argc != 1) {
      return fail(n.pos, n.text + "() takes 1 argument, got " + std::to_string(argc));
    }
    Node& arg = *n.args[1];
    if (!check_value(arg)) {
      return false;
    }
    if (arg.type.kind != TypeKind::kString) {
      return fail(start_of(arg), n.text + "() expects a string argument, got " + type_name(arg.type));
    }
    n.type = {TypeKind::kBool};
    return true;
  }

  // kIdent, kSelect, kIndex: fields, metadata, velocity members.
  bool check_path(Node& n) {
    if (n.kind == NodeKind::kIndex) {
      return check_index(n);
    }
    if (n.kind == NodeKind::kSelect && n.args[0]->kind == NodeKind::kCall && n.args[0]->text == "velocity") {
      Node& call = *n.args[0];
      if (!check(call)) {
        return false;
      }
      if (n.text == "count" || n.text == "amount") {
        n.ref.kind = n.text == "count" ? RefKind::kVelocityCount : RefKind::kVelocityAmount;
        n.ref.slot = call.ref.slot;
        n.type = {TypeKind::kInt};
        return true;
      }
      return fail(n.pos, "velocity(...) has no field " + quote(n.text), "(use .count or .amount)");
    }
    // Collect the dotted path a.b.c; anything but identifiers below is not a field.
    std::vector<const Node*> chain;
    const Node* cur = &n;
    while (cur->kind == NodeKind::kSelect) {
      chain.push_back(cur);
      cur = cur->args[0].get();
    }
    if (cur->kind != NodeKind::kIdent) {
      // e.g. (amount + 1).x or metadata['k'].x: type the operand for a precise message.
      Node& base = *n.args[0];
      if (!check(base)) {
        return false;
      }
      return fail(n.pos, "cannot select field " + quote(n.text) + " from a value of type " + type_name(base.type));
    }
    std::string path = cur->text;
    for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
      path.push_back('.');
      path.append((*it)->text);
    }
    const std::size_t pos = cur->pos;
    const std::string& root = cur->text;
    if (root == "metadata") {
      if (chain.empty()) {
        return fail(pos, "'metadata' needs a key", "(write metadata.KEY or metadata['KEY'])");
      }
      if (chain.size() > 1) {
        return fail(pos, "unknown field " + quote(path), "(metadata values are strings and have no fields)");
      }
      return resolve_metadata(n, n.text);
    }
    if (auto f = field_from_name(path)) {
      n.ref.kind = RefKind::kField;
      n.ref.field = *f;
      refs_.field_mask |= 1U << static_cast<unsigned>(*f);
      n.type = {is_int_field(*f) ? TypeKind::kInt : TypeKind::kString};
      return true;
    }
    if (chain.empty() && (root == "card" || root == "customer" || root == "merchant")) {
      std::string hint = "(expected one of";
      const char* sep = " ";
      for (std::size_t i = 0; i < kFieldCount; ++i) {
        const std::string_view name = field_name(static_cast<Field>(i));
        if (name.size() > root.size() && name.starts_with(root) && name[root.size()] == '.') {
          hint += sep + quote(name);
          sep = ", ";
        }
      }
      hint += ")";
      return fail(pos, "incomplete field " + quote(root), hint);
    }
    if (chain.empty() && (root == "velocity" || root == "list" || root == "size")) {
      return fail(pos, quote(root) + " is a function, not a field", "(call it with arguments, e.g. " + root + "(...))");
    }
    const auto names = all_field_names();
    std::string hint = did_you_mean(path, names);
    if (hint.empty() && !chain.empty()) {
      static constexpr std::array<std::string_view, 1> kMetadata = {"metadata"};
      if (closest(root, kMetadata)) {
        hint = "(did you mean " + quote("metadata" + path.substr(root.size())) + "?)";
      }
    }
    return fail(pos, "unknown field " + quote(path), hint);
  }

  bool check_index(Node& n) {
    Node& base = *n.args[0];
    Node& index = *n.args[1];
    if (base.kind != NodeKind::kIdent || base.text != "metadata") {
      return fail(n.pos, "indexing with [...] is only supported as metadata['KEY']");
    }
    if (index.kind != NodeKind::kString) {
      return fail(start_of(index), "metadata[...] needs a string literal key", "(e.g. metadata['order-channel'])");
    }
    return resolve_metadata(n, index.text);
  }

  bool resolve_metadata(Node& n, const std::string& key) {
    if (key.empty()) {
      return fail(n.pos, "the metadata key must not be empty");
    }
    n.ref.kind = RefKind::kMetadata;
    n.ref.slot = intern(refs_.metadata_keys, key);
    n.type = {TypeKind::kString};
    return true;
  }

  static std::uint32_t intern(std::vector<std::string>& v, const std::string& s) {
    auto it = std::find(v.begin(), v.end(), s);
    if (it != v.end()) {
      return static_cast<std::uint32_t>(it - v.begin());
    }
    v.push_back(s);
    return static_cast<std::uint32_t>(v.size() - 1);
  }

  std::string_view src_;
  References refs_;
  std::optional<CompileError> error_;
};

}  // namespace

CheckResult check(Node& root, std::string_view src) { return Checker(src).run(root); }

}  // namespace txv::rules::internal
