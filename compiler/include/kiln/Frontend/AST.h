//===- AST.h - Syntax tree of the Kiln model language ---------------------===//
//
// The tree mirrors the grammar in docs/language.md. Nodes own their children; nesting depth is
// bounded by the parser (see Parser.h), so recursive walks are safe.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_FRONTEND_AST_H
#define KILN_FRONTEND_AST_H

#include "kiln/Frontend/Diagnostics.h"

#include <memory>
#include <string>
#include <vector>

namespace kiln {
namespace fe {

struct Expr;
struct Stmt;
using ExprPtr = std::unique_ptr<Expr>;
using StmtPtr = std::unique_ptr<Stmt>;

enum class ExprKind { Int, Float, Bool, String, Name, Unary, Binary, Call };

struct NamedArg {
  std::string Name;
  Loc Where;
  ExprPtr Value;
};

struct Expr {
  ExprKind Kind;
  Loc Where;
  int64_t IntVal = 0;
  double FloatVal = 0;
  bool BoolVal = false;
  /// Name (Name), string contents (String), operator spelling (Unary/Binary), callee (Call).
  std::string Text;
  /// Operands (Unary/Binary) or positional arguments (Call).
  std::vector<ExprPtr> Args;
  /// Named arguments of a call: `heads: n_head`.
  std::vector<NamedArg> Named;
  /// `call(...) as a.b.0` names the parameters the call creates; empty when absent.
  std::string AsName;
  Loc AsWhere;
  /// Height of this subtree (1 for leaves); the parser bounds it.
  unsigned Depth = 1;
};

enum class StmtKind { Assign, Repeat, If, Output, Objective, Return };

struct Stmt {
  StmtKind Kind;
  Loc Where;
  /// Assigned name (Assign, Output), repeat scope name, objective kind.
  std::string Name;
  Loc NameWhere;
  /// Assigned value, repeat count, if condition, returned value; null for `output x`.
  ExprPtr Value;
  /// Objective arguments.
  std::vector<ExprPtr> Args;
  std::vector<NamedArg> Named;
  std::vector<StmtPtr> Body;
  std::vector<StmtPtr> ElseBody;
};

struct ConfigDecl {
  std::string Name;
  Loc Where;
  ExprPtr Value;
};

struct DimDecl {
  std::string Name; // symbolic dimension; empty when `Size` is used
  int64_t Size = 0;
  Loc Where;
};

struct InputDecl {
  std::string Name;
  Loc Where;
  std::string Kind; // tokens | mask | type_ids | labels
  Loc KindWhere;
  std::vector<DimDecl> Dims;
};

struct BlockParam {
  std::string Name;
  Loc Where;
  ExprPtr Default; // null when required
};

struct BlockDecl {
  std::string Name;
  Loc Where;
  std::vector<BlockParam> Params;
  std::vector<StmtPtr> Body;
};

/// `"h.*.attn.q.weight" = "h.*.attn.c_attn.weight" transpose chunk(0, 3, 1)`
struct WeightRule {
  std::string Pattern;
  Loc Where;
  std::string Target; // empty with `none`
  bool None = false;
  bool Transpose = false;
  bool HasChunk = false;
  int64_t Chunk[3] = {0, 1, 0}; // index, count, axis
  Loc ChunkWhere;
};

/// `ignore "lm_head.weight", "h.*.attn.bias"`: one checkpoint tensor pattern.
struct IgnorePattern {
  std::string Pattern;
  Loc Where;
};

struct WeightsDecl {
  std::string Format; // e.g. huggingface
  Loc Where;
  std::vector<std::string> Prefixes;
  std::vector<WeightRule> Rules;
  /// Checkpoint tensors that are not parameters (tied copies, buffers); `*` = any characters.
  std::vector<IgnorePattern> Ignore;
};

/// One parameter pattern of an init rule, with its location.
struct InitPattern {
  std::string Pattern;
  Loc Where;
};

/// `"h.*.attn.o.weight", "h.*.mlp.down.weight" = normal(0.02 / sqrt(2 * n_layer))`
struct InitRule {
  std::vector<InitPattern> Patterns;
  Loc Where;
  std::string Kind; // normal | zeros | ones
  Loc KindWhere;
  ExprPtr Std;      // the standard deviation of `normal(...)`; null otherwise
};

/// `init { std = initializer_range  "pattern" = normal(expr) ... }`
struct InitDecl {
  Loc Where;
  ExprPtr DefaultStd; // `std = expr`: replaces 0.02 for every normal-initialized parameter
  Loc DefaultStdWhere;
  std::vector<InitRule> Rules;
};

struct ModelDecl {
  std::string Name;
  Loc Where;
  std::vector<ConfigDecl> Config;
  std::vector<InputDecl> Inputs;
  std::vector<BlockDecl> Blocks;
  std::vector<StmtPtr> Body;
  std::unique_ptr<WeightsDecl> Weights;
  std::unique_ptr<InitDecl> Init;
};

/// A parsed file: blocks at file scope and exactly one model.
struct Module {
  std::vector<BlockDecl> Blocks;
  std::unique_ptr<ModelDecl> Model;
};

} // namespace fe
} // namespace kiln

#endif // KILN_FRONTEND_AST_H
