#include "rules/compiler.h"

#include <algorithm>
#include <numeric>
#include <utility>

#include "rules/diagnostics.h"

namespace txv::rules::internal {
namespace {

bool is_constant(const Node& n) {
  return n.kind == NodeKind::kInt || n.kind == NodeKind::kString || n.kind == NodeKind::kBool;
}

class Compiler {
 public:
  explicit Compiler(Program& p) : p_(p) {}

  void emit_root(const Node& root) { emit(root); }
  int max_stack() const { return max_; }

 private:
  std::size_t op(Op o, std::uint32_t a = 0, std::int64_t b = 0) {
    p_.code.push_back(Instr{o, a, b});
    return p_.code.size() - 1;
  }
  void push() { max_ = std::max(max_, ++depth_); }
  void pop() { --depth_; }
  void patch_to_here(std::size_t at) { p_.code[at].a = static_cast<std::uint32_t>(p_.code.size()); }
  // Marks the instruction just emitted as a traced value named by `n`'s text (Instr::b = its trace index; one index
  // per distinct text, numbered in emission order, which is source order: post-order, left to right).
  void trace_last(const Node& n) {
    std::string text = source_text(n);
    auto it = std::find(p_.trace_exprs.begin(), p_.trace_exprs.end(), text);
    if (it == p_.trace_exprs.end()) it = p_.trace_exprs.insert(p_.trace_exprs.end(), std::move(text));
    p_.code.back().b = it - p_.trace_exprs.begin();
  }

  void emit_string(const std::string& s) {
    const auto off = static_cast<std::uint32_t>(p_.pool.size());
    p_.pool += s;
    op(Op::kPushStr, off, static_cast<std::int64_t>(s.size()));
    push();
  }

  void emit(const Node& n) {
    switch (n.kind) {
      case NodeKind::kInt:
        op(Op::kPushInt, 0, n.int_value);
        push();
        return;
      case NodeKind::kBool:
        op(Op::kPushInt, 0, n.bool_value ? 1 : 0);
        push();
        return;
      case NodeKind::kString:
        emit_string(n.text);
        return;
      case NodeKind::kIdent:
      case NodeKind::kSelect:
      case NodeKind::kIndex:
        emit_ref(n);
        return;
      case NodeKind::kCall:  // only size() reaches here: velocity/list are consumed by their parents
        emit_size(n, *n.args[0]);
        return;
      case NodeKind::kMethod:
        if (n.text == "size") {
          emit_size(n, *n.args[0]);
          return;
        }
        emit(*n.args[0]);
        emit(*n.args[1]);
        op(n.text == "startsWith" ? Op::kStartsWith : n.text == "endsWith" ? Op::kEndsWith : Op::kContains);
        trace_last(n);
        pop();
        return;
      case NodeKind::kNot:
        emit(*n.args[0]);
        op(Op::kNot);
        return;
      case NodeKind::kNeg:
        emit(*n.args[0]);
        op(Op::kNeg);
        return;
      case NodeKind::kAnd:
      case NodeKind::kOr:
        emit_logical(n);
        return;
      case NodeKind::kBinary:
        emit_binary(n);
        return;
      case NodeKind::kList:
        return;  // never a value (checker)
    }
  }

  void emit_ref(const Node& n) {
    switch (n.ref.kind) {
      case RefKind::kField:
        op(is_int_field(n.ref.field) ? Op::kLoadInt : Op::kLoadStr, static_cast<std::uint32_t>(n.ref.field));
        break;
      case RefKind::kMetadata:
        op(Op::kLoadMeta, n.ref.slot);
        break;
      case RefKind::kVelocityCount:
        op(Op::kLoadVelCount, n.ref.slot);
        break;
      case RefKind::kVelocityAmount:
        op(Op::kLoadVelAmount, n.ref.slot);
        break;
      default:
        op(Op::kPushInt, 0, 0);
        push();
        return;  // unreachable after checking
    }
    trace_last(n);
    push();
  }

  void emit_size(const Node& call, const Node& arg) {
    if (arg.type.kind == TypeKind::kList) {
      // The size of a list literal is known now; its elements are not evaluated.
      op(Op::kPushInt, 0, static_cast<std::int64_t>(arg.args.size()));
      push();
      return;
    }
    emit(arg);
    op(Op::kSize);
    trace_last(call);
  }

  void emit_logical(const Node& n) {
    const bool is_and = n.kind == NodeKind::kAnd;
    std::vector<std::size_t> jumps;
    emit(*n.args[0]);
    for (std::size_t i = 1; i < n.args.size(); ++i) {
      jumps.push_back(op(is_and ? Op::kJumpIfFalse : Op::kJumpIfTrue));
      emit(*n.args[i]);
      op(is_and ? Op::kAnd : Op::kOr);
      pop();
    }
    for (std::size_t j : jumps) {
      patch_to_here(j);
    }
  }

  void emit_binary(const Node& n) {
    const Node& l = *n.args[0];
    const Node& r = *n.args[1];
    if (n.op == BinaryOp::kIn) {
      emit_in(n, l, r);
      return;
    }
    emit(l);
    emit(r);
    pop();
    const bool str = l.type.kind == TypeKind::kString;
    switch (n.op) {
      case BinaryOp::kEq:
        op(str ? Op::kEqS : Op::kEqI);
        return;
      case BinaryOp::kNe:
        op(str ? Op::kNeS : Op::kNeI);
        return;
      case BinaryOp::kLt:
        op(str ? Op::kLtS : Op::kLtI);
        return;
      case BinaryOp::kLe:
        op(str ? Op::kLeS : Op::kLeI);
        return;
      case BinaryOp::kGt:
        op(str ? Op::kGtS : Op::kGtI);
        return;
      case BinaryOp::kGe:
        op(str ? Op::kGeS : Op::kGeI);
        return;
      case BinaryOp::kAdd:
        op(Op::kAdd);
        return;
      case BinaryOp::kSub:
        op(Op::kSub);
        return;
      case BinaryOp::kMul:
        op(Op::kMul);
        return;
      case BinaryOp::kDiv:
        op(Op::kDiv);
        return;
      case BinaryOp::kMod:
        op(Op::kMod);
        return;
      case BinaryOp::kIn:
        return;
    }
  }

  void emit_in(const Node& in, const Node& x, const Node& list) {
    emit(x);
    if (list.type.kind == TypeKind::kNamedList) {
      op(Op::kInList, list.ref.slot);
      trace_last(in);
      return;
    }
    const bool str = x.type.kind == TypeKind::kString;
    if (std::all_of(list.args.begin(), list.args.end(), [](const NodePtr& e) { return is_constant(*e); })) {
      if (str) {
        std::vector<std::string> set;
        set.reserve(list.args.size());
        for (const auto& e : list.args) {
          set.push_back(e->text);
        }
        std::sort(set.begin(), set.end());
        set.erase(std::unique(set.begin(), set.end()), set.end());
        p_.string_sets.push_back(std::move(set));
        op(Op::kInSetS, static_cast<std::uint32_t>(p_.string_sets.size() - 1));
      } else {
        std::vector<std::int64_t> set;
        set.reserve(list.args.size());
        for (const auto& e : list.args) {
          set.push_back(e->kind == NodeKind::kBool ? (e->bool_value ? 1 : 0) : e->int_value);
        }
        std::sort(set.begin(), set.end());
        set.erase(std::unique(set.begin(), set.end()), set.end());
        p_.int_sets.push_back(std::move(set));
        op(Op::kInSetI, static_cast<std::uint32_t>(p_.int_sets.size() - 1));
      }
      return;
    }
    op(Op::kDynInStart);
    push();
    for (const auto& e : list.args) {
      emit(*e);
      op(str ? Op::kDynInStepS : Op::kDynInStepI);
      pop();
    }
    op(Op::kDynInEnd);
    pop();
  }

  Program& p_;
  int depth_ = 0;
  int max_ = 0;
};

}  // namespace

CompileOutput compile_program(const Node& root, References refs, std::string_view src) {
  auto p = std::make_shared<Program>();
  p->source.assign(src);
  Compiler c(*p);
  c.emit_root(root);
  CompileOutput out;
  if (c.max_stack() > kMaxStack) {
    out.error = make_error(src, 0, "expression is too complex",
                           "(it needs more than " + std::to_string(kMaxStack) + " evaluation slots; split it)");
    return out;
  }
  p->max_stack = c.max_stack();
  const std::size_t n = std::max({refs.list_names.size(), refs.velocities.size(), refs.metadata_keys.size()});
  p->identity.resize(n);
  std::iota(p->identity.begin(), p->identity.end(), 0U);
  p->refs = std::move(refs);
  p->code.shrink_to_fit();
  out.program = std::move(p);
  return out;
}

}  // namespace txv::rules::internal
