//===- Graph.h - The elaborated model: tensors, ops and parameters --------===//
//
// Sema checks a Module and elaborates it into a Graph: config values after overrides, every
// `repeat` unrolled, every block inlined, every parameter created with its hierarchical name and
// checkpoint mapping, and one Node per kiln dialect op with inferred tensor types. MLIRGen turns
// a Graph into kiln dialect IR one node at a time.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_FRONTEND_GRAPH_H
#define KILN_FRONTEND_GRAPH_H

#include "kiln/Frontend/Diagnostics.h"

#include <cstdint>
#include <string>
#include <vector>

namespace kiln {
namespace fe {

enum class DType { F32, I32 };

/// One tensor dimension: a static size, or a symbolic (dynamic) dimension such as `batch`.
struct Dim {
  int64_t Size = 0;
  std::string Sym;
  bool isDynamic() const { return !Sym.empty(); }
  bool operator==(const Dim &o) const { return Sym == o.Sym && (isDynamic() || Size == o.Size); }
  bool operator!=(const Dim &o) const { return !(*this == o); }
};

struct TensorType {
  std::vector<Dim> Shape;
  DType Type = DType::F32;
};

/// `[batch, seq, 768] f32`
std::string formatType(const TensorType &t);

/// A scalar value: a config value, an op attribute, a call argument.
struct Scalar {
  enum Kind { Int, Float, Bool, String } K = Int;
  int64_t I = 0;
  double F = 0;
  bool B = false;
  std::string S;
  static Scalar ofInt(int64_t v) { Scalar s; s.K = Int; s.I = v; return s; }
  static Scalar ofFloat(double v) { Scalar s; s.K = Float; s.F = v; return s; }
  static Scalar ofBool(bool v) { Scalar s; s.K = Bool; s.B = v; return s; }
  static Scalar ofString(std::string v) { Scalar s; s.K = String; s.S = std::move(v); return s; }
};

/// Renders a scalar as Kiln source would spell it (1e-05, true, "gelu").
std::string formatScalar(const Scalar &s);
const char *scalarKindName(Scalar::Kind k);

struct NamedScalar {
  std::string Name;
  Scalar Value;
};

/// A config value after overrides.
struct ConfigValue {
  std::string Name;
  Scalar Value;
  Loc Where;
  /// Where an override came from ("--set", a config file name); empty for the model file.
  std::string Origin;
};

/// One kiln dialect op. Operands carry a role when the op has optional operands
/// (attention: "mask", "bias"; pool: "mask"; linear: "bias").
struct Node {
  std::string Op; // mnemonic without the dialect prefix: "linear", "param_ref"
  std::vector<int> Operands;
  std::vector<std::string> Roles;
  std::vector<NamedScalar> Attrs;
  int Result = -1;
  Loc Where;

  const Scalar *attr(const std::string &name) const {
    for (const NamedScalar &a : Attrs)
      if (a.Name == name)
        return &a.Value;
    return nullptr;
  }
  int operand(const std::string &role) const {
    for (size_t i = 0; i < Operands.size(); ++i)
      if (Roles[i] == role)
        return Operands[i];
    return -1;
  }
};

enum class InitKind { Normal, Zeros, Ones };

struct Param {
  std::string Name;
  std::vector<int64_t> Shape;
  InitKind Init = InitKind::Normal;
  double Std = 0.02;
  Loc Where;
  /// Checkpoint mapping: HFName empty means "not in the checkpoint".
  std::string HFName;
  bool HFTranspose = false;
  bool HasChunk = false;
  int64_t Chunk[3] = {0, 1, 0}; // index, count, axis of the stored checkpoint tensor
};

struct GraphInput {
  std::string Name;
  std::string Kind; // tokens | mask | type_ids | labels
  int Tensor = -1;
  Loc Where;
};

struct GraphOutput {
  std::string Name;
  int Tensor = -1;
  Loc Where;
};

struct Objective {
  std::string Kind; // causal_lm | masked_lm | seq2seq_lm | classification; empty if none
  int Output = -1;  // index into Graph::Outputs
  int Labels = -1;  // index into Graph::Inputs
  bool Shift = false;
  int64_t IgnoreIndex = -100;
  Loc Where;
};

struct Graph {
  std::string ModelName;
  Loc ModelWhere;
  std::vector<ConfigValue> Config;
  std::vector<TensorType> Tensors;
  std::vector<Node> Nodes;
  std::vector<Param> Params;
  std::vector<GraphInput> Inputs;
  std::vector<GraphOutput> Outputs;
  Objective Loss;
  /// Positions a KV cache for generation holds: the smallest of the learned position tables'
  /// sizes and the `max_positions:` options of rotary embeddings; 0 when the model states none.
  int64_t MaxPositions = 0;
  std::string WeightsFormat;
  std::vector<std::string> WeightsPrefixes;
  /// Checkpoint tensor patterns that are not parameters (`ignore` in the weights section).
  std::vector<std::string> WeightsIgnore;
};

/// A human-readable listing of the parameters and their checkpoint mapping (--emit=params).
std::string formatParams(const Graph &g);

} // namespace fe
} // namespace kiln

#endif // KILN_FRONTEND_GRAPH_H
