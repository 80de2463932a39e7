//===- MLIRGen.cpp - Emit kiln dialect IR from an elaborated Kiln model ---===//
//
// The Graph built by Sema is already unrolled and shape-checked, so emission is a walk over its
// nodes in order: one kiln op per node, one SSA value per tensor.
//
//===----------------------------------------------------------------------===//
#include "kiln/MLIRGen/MLIRGen.h"

#include "kiln/Dialect/Kiln/KilnDialect.h"
#include "kiln/Dialect/Kiln/KilnOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SmallVector.h"

#include <map>
#include <set>

using namespace mlir;

namespace kiln {
namespace {

/// The encoder output of an encoder-decoder model: `encode`'s result, an input of the decoder's
/// `prefill` and `decode`.
constexpr const char *kEncoderStates = "encoder_states";

class Generator {
public:
  Generator(MLIRContext &ctx, const fe::Graph &g, const std::string &file)
      : Ctx(ctx), G(g), B(&ctx), File(StringAttr::get(&ctx, file)) {}

  OwningOpRef<ModuleOp> run();

private:
  Location loc(fe::Loc l) {
    return l.valid() ? Location(FileLineColLoc::get(File, l.line, l.col))
                     : Location(FileLineColLoc::get(File, 1, 1));
  }
  RankedTensorType tensorType(const fe::TensorType &t) {
    SmallVector<int64_t> shape;
    for (const fe::Dim &d : t.Shape)
      shape.push_back(d.isDynamic() ? ShapedType::kDynamic : d.Size);
    Type elt = t.Type == fe::DType::F32 ? Type(B.getF32Type()) : Type(B.getI32Type());
    return RankedTensorType::get(shape, elt);
  }
  /// `kiln.dims`: the symbolic names of a tensor's dynamic dimensions, in order; null when it
  /// has none.
  ArrayAttr dimsAttr(const fe::TensorType &t) {
    SmallVector<Attribute> names;
    for (const fe::Dim &d : t.Shape)
      if (d.isDynamic())
        names.push_back(B.getStringAttr(d.Sym));
    return names.empty() ? ArrayAttr() : B.getArrayAttr(names);
  }
  void setArgDims(func::FuncOp fn, unsigned i, const fe::TensorType &t) {
    if (ArrayAttr dims = dimsAttr(t))
      fn.setArgAttr(i, KilnDialect::kDimsAttrName, dims);
  }
  void setResultDims(func::FuncOp fn, unsigned i, const fe::TensorType &t) {
    if (ArrayAttr dims = dimsAttr(t))
      fn.setResultAttr(i, KilnDialect::kDimsAttrName, dims);
  }
  ArrayAttr stringArray(const std::vector<std::string> &v) {
    SmallVector<Attribute> a;
    for (const std::string &s : v)
      a.push_back(B.getStringAttr(s));
    return B.getArrayAttr(a);
  }
  Attribute scalarAttr(const fe::Scalar &s) {
    switch (s.K) {
    case fe::Scalar::Int:
      return B.getI64IntegerAttr(s.I);
    case fe::Scalar::Float:
      return B.getF64FloatAttr(s.F);
    case fe::Scalar::Bool:
      return B.getBoolAttr(s.B);
    case fe::Scalar::String:
      return B.getStringAttr(s.S);
    }
    return {};
  }

  /// What a generation entry point (prefill, decode) threads through the nodes: the run-time
  /// position, the KV caches as updated so far and the next attention layer's index.
  struct Generation {
    Value position;
    Value cacheK, cacheV;
    int64_t layer = 0;
    int logitsTensor = -1;
    /// Encoder-decoder models: per tensor, whether it depends on the decoder's token ids
    /// (self-attention) or not (cross-attention).
    const std::vector<bool> *onDecoder = nullptr;
    /// The decoder's relative position bias, emitted at the first self-attention that reads
    /// it: its keys are that layer's KV-cache prefix (see emitNode).
    const fe::Node *pendingBias = nullptr;
    /// While the pending bias is emitted: the attention's queries and cached keys.
    Value biasQuery, biasKey;
  };

  /// How an encoder-decoder model splits into `encode` (source ids -> encoder states and the
  /// cross-attention keys and values) and the decoder's `prefill` / `decode` (which take those
  /// keys and values as inputs, so that no projection of the encoder states runs per step).
  struct Seq2SeqPlan {
    unsigned decoderIds = 0; // index into G.Inputs
    int states = -1;         // the encoder output the decoder's cross-attentions read
    /// The encoder tensors the decoder takes as inputs, by name, in signature order: each
    /// cross-attention's keys and values (`cross_k_<i>`, `cross_v_<i>`), or, when the decoder
    /// reads the encoder otherwise, the encoder states alone.
    SmallVector<std::pair<std::string, int>> carried;
    SmallVector<unsigned> encodeInputs, decoderInputs; // G.Inputs indices, graph order
    std::vector<bool> encodeNodes, decoderNodes;        // by node index
    std::vector<bool> onDecoder;                        // by tensor
    int64_t kvWidth = -1, layers = 0;
  };

  void emitParams(ModuleOp m);
  LogicalResult emitForward(ModuleOp m);
  LogicalResult emitLoss(ModuleOp m, func::FuncOp forward);
  LogicalResult emitNode(const fe::Node &n, llvm::DenseMap<int, Value> &values,
                         Generation *gen = nullptr);
  /// Why the model gets no prefill/decode entry points; empty when it gets them.
  std::string generationBlocker(int64_t &kvWidth, int64_t &layers) const;
  /// Why an encoder-decoder model gets no encode/prefill/decode entry points; empty when it
  /// gets them (and `plan` is filled).
  std::string seq2seqBlocker(Seq2SeqPlan &plan) const;
  /// `encode`: the encoder alone, returning its states and what the decoder takes from it.
  LogicalResult emitEncode(ModuleOp m, const Seq2SeqPlan &plan);
  /// `prefill` (dynamic seq) or `decode` (seq 1); with `plan`, the decoder of an
  /// encoder-decoder model, which also takes what `encode` computed for it (the
  /// cross-attention keys and values) and the decoder's other inputs.
  LogicalResult emitGeneration(ModuleOp m, StringRef name, bool decode, int64_t kvWidth,
                               int64_t layers, const Seq2SeqPlan *plan = nullptr);

  MLIRContext &Ctx;
  const fe::Graph &G;
  OpBuilder B;
  StringAttr File;
  SmallVector<unsigned> ForwardInputs;
};

void Generator::emitParams(ModuleOp m) {
  B.setInsertionPointToEnd(m.getBody());
  for (const fe::Param &p : G.Params) {
    OperationState st(loc(p.Where), ParamOp::getOperationName());
    SmallVector<int64_t> shape(p.Shape.begin(), p.Shape.end());
    st.addAttribute("sym_name", B.getStringAttr(p.Name));
    st.addAttribute("type", TypeAttr::get(RankedTensorType::get(shape, B.getF32Type())));
    InitKind kind = p.Init == fe::InitKind::Normal  ? InitKind::Normal
                    : p.Init == fe::InitKind::Zeros ? InitKind::Zeros
                                                    : InitKind::Ones;
    st.addAttribute("init", InitKindAttr::get(&Ctx, kind));
    if (p.Init == fe::InitKind::Normal)
      st.addAttribute("std", B.getF64FloatAttr(p.Std));
    if (!p.HFName.empty()) {
      st.addAttribute("hf_name", B.getStringAttr(p.HFName));
      if (p.HFTranspose)
        st.addAttribute("hf_transpose", B.getUnitAttr());
      if (p.HasChunk)
        st.addAttribute("hf_slice", B.getDenseI64ArrayAttr({p.Chunk[0], p.Chunk[1], p.Chunk[2]}));
    }
    B.create(st);
  }
}

LogicalResult Generator::emitNode(const fe::Node &n, llvm::DenseMap<int, Value> &values,
                                  Generation *gen) {
  Location l = loc(n.Where);
  std::string name = "kiln." + n.Op;
  OperationState st(l, name);
  SmallVector<Value> operands;
  for (int t : n.Operands) {
    auto it = values.find(t);
    if (it != values.end()) {
      operands.push_back(it->second);
    } else if (gen && gen->pendingBias && t == gen->pendingBias->Result) {
      operands.push_back(Value()); // emitted below, once the keys are cached
    } else {
      return emitError(l) << "internal error: operand of '" << name << "' has no value";
    }
  }
  Type resultType = tensorType(G.Tensors[n.Result]);
  if (gen) {
    if (n.Op == "position_embedding" || n.Op == "rotary") {
      // Positions start at the number of tokens already cached.
      operands.push_back(gen->position);
    } else if (n.Op == "attention" && gen->onDecoder && !(*gen->onDecoder)[n.Operands[1]]) {
      // Cross-attention: its keys and values are inputs, computed once per source by
      // `encode` (or projected from the encoder states at each call; see Seq2SeqPlan).
    } else if (n.Op == "relative_position_bias") {
      // Queries are at positions p .. p+S-1 and keys at 0 .. p+S-1 (the cached ones): the
      // bias [H, S, p+S] is emitted with the first self-attention's queries and KV-cache
      // prefix, which give those lengths (the static-capacity form of the cache then gives
      // [H, S, capacity]; docs/dispatch.md).
      if (!gen->biasKey) {
        gen->pendingBias = &n;
        return success();
      }
      operands[0] = gen->biasQuery;
      operands[1] = gen->biasKey;
      operands.push_back(gen->position);
      auto queryType = cast<RankedTensorType>(operands[0].getType());
      auto keyType = cast<RankedTensorType>(operands[1].getType());
      auto full = cast<RankedTensorType>(resultType);
      resultType = RankedTensorType::get(
          {full.getDimSize(0), queryType.getDimSize(1), keyType.getDimSize(1)},
          full.getElementType());
    } else if (n.Op == "attention") {
      // Keys and values go into the layer's cache rows; attention reads every cached row.
      auto append = [&](Value &cache, Value rows) {
        auto rowsType = cast<RankedTensorType>(rows.getType());
        auto prefixType =
            RankedTensorType::get({rowsType.getDimSize(0), ShapedType::kDynamic,
                                   rowsType.getDimSize(2)},
                                  rowsType.getElementType());
        auto op = B.create<KVCacheAppendOp>(l, cache.getType(), prefixType, cache, rows,
                                            gen->position, B.getI64IntegerAttr(gen->layer),
                                            /*capacity=*/UnitAttr());
        cache = op.getUpdated();
        return op.getPrefix();
      };
      operands[1] = append(gen->cacheK, operands[1]);
      operands[2] = append(gen->cacheV, operands[2]);
      int biasTensor = n.operand("bias");
      if (biasTensor >= 0 && gen->pendingBias && biasTensor == gen->pendingBias->Result) {
        gen->biasQuery = operands[0];
        gen->biasKey = operands[1];
        const fe::Node *pending = gen->pendingBias;
        gen->pendingBias = nullptr;
        if (failed(emitNode(*pending, values, gen)))
          return failure();
        unsigned at = 3 + (n.operand("mask") >= 0);
        operands[at] = values[biasTensor];
      }
      // The queries are the tokens at position .. position + S - 1 (the causal mask this
      // gives is the end-aligned one here; the static-capacity form of the cache needs it).
      operands.push_back(gen->position);
      ++gen->layer;
    } else if (n.Result == gen->logitsTensor) {
      // Only the last position's logits: the head runs on x[:, S-1, :].
      Value x = operands[0];
      auto xType = cast<RankedTensorType>(x.getType());
      auto dimOf = [&](int64_t d) -> OpFoldResult {
        if (!xType.isDynamicDim(d))
          return B.getIndexAttr(xType.getDimSize(d));
        return B.create<tensor::DimOp>(l, x, d).getResult();
      };
      Value seq = B.create<tensor::DimOp>(l, x, 1);
      Value last = B.create<arith::SubIOp>(l, seq, B.create<arith::ConstantIndexOp>(l, 1));
      auto sliceType = RankedTensorType::get({xType.getDimSize(0), xType.getDimSize(2)},
                                             xType.getElementType());
      OpFoldResult zero = B.getIndexAttr(0), one = B.getIndexAttr(1);
      operands[0] = B.create<tensor::ExtractSliceOp>(
          l, sliceType, x, SmallVector<OpFoldResult>{zero, last, zero},
          SmallVector<OpFoldResult>{dimOf(0), one, dimOf(2)},
          SmallVector<OpFoldResult>{one, one, one});
      auto full = cast<RankedTensorType>(resultType);
      resultType = RankedTensorType::get({full.getDimSize(0), full.getDimSize(2)},
                                         full.getElementType());
    }
  }
  st.addOperands(operands);
  st.addTypes(resultType);
  for (const fe::NamedScalar &a : n.Attrs) {
    if (n.Op == "param_ref" && a.Name == "name") {
      st.addAttribute("name", FlatSymbolRefAttr::get(&Ctx, a.Value.S));
    } else if (n.Op == "activation" && a.Name == "kind") {
      std::optional<ActivationKind> k = symbolizeActivationKind(a.Value.S);
      if (!k)
        return emitError(l) << "internal error: unknown activation '" << a.Value.S << "'";
      st.addAttribute("kind", ActivationKindAttr::get(&Ctx, *k));
    } else if (n.Op == "pool" && a.Name == "mode") {
      std::optional<PoolMode> k = symbolizePoolMode(a.Value.S);
      if (!k)
        return emitError(l) << "internal error: unknown pool mode '" << a.Value.S << "'";
      st.addAttribute("mode", PoolModeAttr::get(&Ctx, *k));
    } else if (a.Value.K == fe::Scalar::Bool) {
      // Flags are unit attributes: present when true.
      if (a.Value.B)
        st.addAttribute(a.Name, B.getUnitAttr());
    } else {
      st.addAttribute(a.Name, scalarAttr(a.Value));
    }
  }
  if (n.Op == "attention") {
    int32_t mask = n.operand("mask") >= 0, bias = n.operand("bias") >= 0;
    // Generation entry points pass the position to self-attention over the cache (above).
    int32_t position = operands.size() > size_t(3 + mask + bias);
    st.addAttribute("operandSegmentSizes",
                    B.getDenseI32ArrayAttr({1, 1, 1, mask, bias, position}));
  }
  Operation *op = B.create(st);
  values[n.Result] = op->getResult(0);
  return success();
}

LogicalResult Generator::emitForward(ModuleOp m) {
  SmallVector<Type> argTypes, resultTypes;
  for (unsigned i = 0; i < G.Inputs.size(); ++i)
    if (G.Inputs[i].Kind != "labels") {
      ForwardInputs.push_back(i);
      argTypes.push_back(tensorType(G.Tensors[G.Inputs[i].Tensor]));
    }
  for (const fe::GraphOutput &o : G.Outputs)
    resultTypes.push_back(tensorType(G.Tensors[o.Tensor]));
  B.setInsertionPointToEnd(m.getBody());
  auto fn = B.create<func::FuncOp>(loc(G.ModelWhere), "forward",
                                   B.getFunctionType(argTypes, resultTypes));
  for (unsigned i = 0; i < ForwardInputs.size(); ++i) {
    const fe::GraphInput &in = G.Inputs[ForwardInputs[i]];
    fn.setArgAttr(i, KilnDialect::kInputAttrName, B.getStringAttr(in.Name));
    setArgDims(fn, i, G.Tensors[in.Tensor]);
  }
  for (unsigned i = 0; i < G.Outputs.size(); ++i) {
    fn.setResultAttr(i, KilnDialect::kOutputAttrName, B.getStringAttr(G.Outputs[i].Name));
    setResultDims(fn, i, G.Tensors[G.Outputs[i].Tensor]);
  }
  Block *body = fn.addEntryBlock();
  B.setInsertionPointToStart(body);
  llvm::DenseMap<int, Value> values;
  for (unsigned i = 0; i < ForwardInputs.size(); ++i) {
    const fe::GraphInput &in = G.Inputs[ForwardInputs[i]];
    body->getArgument(i).setLoc(loc(in.Where));
    values[in.Tensor] = body->getArgument(i);
  }
  for (const fe::Node &n : G.Nodes)
    if (failed(emitNode(n, values)))
      return failure();
  SmallVector<Value> results;
  for (const fe::GraphOutput &o : G.Outputs)
    results.push_back(values.lookup(o.Tensor));
  B.create<func::ReturnOp>(loc(G.ModelWhere), results);
  return success();
}

LogicalResult Generator::emitLoss(ModuleOp m, func::FuncOp forward) {
  const fe::Objective &obj = G.Loss;
  // Arguments: the forward inputs, then the label inputs.
  SmallVector<unsigned> inputs(ForwardInputs.begin(), ForwardInputs.end());
  for (unsigned i = 0; i < G.Inputs.size(); ++i)
    if (G.Inputs[i].Kind == "labels")
      inputs.push_back(i);
  SmallVector<Type> argTypes;
  for (unsigned i : inputs)
    argTypes.push_back(tensorType(G.Tensors[G.Inputs[i].Tensor]));
  Type f32 = RankedTensorType::get({}, B.getF32Type());
  B.setInsertionPointToEnd(m.getBody());
  Location l = loc(obj.Where);
  auto fn = B.create<func::FuncOp>(l, "loss", B.getFunctionType(argTypes, {f32}));
  for (unsigned i = 0; i < inputs.size(); ++i) {
    const fe::GraphInput &in = G.Inputs[inputs[i]];
    fn.setArgAttr(i, KilnDialect::kInputAttrName, B.getStringAttr(in.Name));
    setArgDims(fn, i, G.Tensors[in.Tensor]);
  }
  fn.setResultAttr(0, KilnDialect::kOutputAttrName, B.getStringAttr("loss"));
  Block *body = fn.addEntryBlock();
  B.setInsertionPointToStart(body);
  SmallVector<Value> fwdArgs(body->getArguments().begin(),
                             body->getArguments().begin() + ForwardInputs.size());
  auto call = B.create<func::CallOp>(l, forward, fwdArgs);
  Value logits = call.getResult(obj.Output);
  Value labels;
  for (unsigned i = 0; i < inputs.size(); ++i)
    if ((int)inputs[i] == obj.Labels)
      labels = body->getArgument(i);
  OperationState st(l, CrossEntropyOp::getOperationName());
  st.addOperands({logits, labels});
  st.addTypes(f32);
  if (obj.Shift)
    st.addAttribute("shift", B.getUnitAttr());
  st.addAttribute("ignore_index", B.getI64IntegerAttr(obj.IgnoreIndex));
  Operation *ce = B.create(st);
  B.create<func::ReturnOp>(l, ce->getResult(0));
  return success();
}

std::string Generator::generationBlocker(int64_t &kvWidth, int64_t &layers) const {
  if (G.Loss.Kind != "causal_lm")
    return "its objective is not causal_lm";
  if (G.MaxPositions <= 0)
    return "it states no maximum number of positions (learned_positions, or max_positions: on "
           "rotary)";
  int tokens = 0;
  for (const fe::GraphInput &in : G.Inputs) {
    if (in.Kind == "tokens")
      ++tokens;
    else if (in.Kind != "labels")
      return "it has a '" + in.Kind + "' input";
  }
  if (tokens != 1)
    return "it does not have exactly one token input";
  const fe::GraphOutput &logits = G.Outputs[G.Loss.Output];
  kvWidth = -1;
  layers = 0;
  bool head = false;
  for (const fe::Node &n : G.Nodes) {
    if (n.Op == "sinusoidal_positions" || n.Op == "relative_position_bias" || n.Op == "pool")
      return "it uses '" + n.Op + "'";
    if (n.Op == "position_embedding" || n.Op == "rotary") {
      const fe::Scalar *offset = n.attr("offset");
      if (offset && offset->I != 0)
        return "it uses a static position offset";
    }
    if (n.Result == logits.Tensor) {
      head = n.Op == "linear" && G.Tensors[n.Operands[0]].Shape.size() == 3;
      if (!head)
        return "its logits are not a linear head over [batch, seq, features]";
    }
    if (n.Op != "attention")
      continue;
    const fe::Scalar *causal = n.attr("causal");
    if (!causal || !causal->B || n.operand("mask") >= 0 || n.operand("bias") >= 0)
      return "it has an attention that is not plain causal self-attention";
    const fe::TensorType &k = G.Tensors[n.Operands[1]];
    if (k.Shape.size() != 3 || k.Shape[2].isDynamic() ||
        (kvWidth >= 0 && k.Shape[2].Size != kvWidth))
      return "its attention layers have different key/value widths";
    kvWidth = k.Shape[2].Size;
    ++layers;
  }
  if (!layers)
    return "it has no attention";
  if (!head)
    return "its logits are not a linear head";
  return "";
}

std::string Generator::seq2seqBlocker(Seq2SeqPlan &plan) const {
  if (G.Loss.Kind != "seq2seq_lm")
    return "its objective is not seq2seq_lm";
  if (G.MaxPositions <= 0)
    return "it states no maximum number of decoder positions (max_positions: on "
           "relative_position_bias, learned_positions, or rotary)";
  const fe::TensorType &logitsT = G.Tensors[G.Outputs[G.Loss.Output].Tensor];
  if (logitsT.Shape.size() != 3)
    return "its logits are not [batch, target, vocab]";
  // The decoder's ids share the logits' sequence dimension; the other token input is the
  // encoder's.
  int decoder = -1, encoder = -1;
  for (unsigned i = 0; i < G.Inputs.size(); ++i) {
    const fe::GraphInput &in = G.Inputs[i];
    if (in.Kind == "labels" || in.Kind == "mask")
      continue;
    if (in.Kind != "tokens")
      return "it has a '" + in.Kind + "' input";
    const fe::Dim &seq = G.Tensors[in.Tensor].Shape[1];
    const fe::Dim &target = logitsT.Shape[1];
    bool same = seq.isDynamic() ? seq.Sym == target.Sym : seq.Size == target.Size;
    int &slot = same ? decoder : encoder;
    if (slot >= 0)
      return "it does not have one encoder and one decoder token input";
    slot = int(i);
  }
  if (decoder < 0 || encoder < 0)
    return "it does not have one encoder and one decoder token input";
  plan.decoderIds = unsigned(decoder);

  // Which inputs each tensor depends on.
  std::vector<uint64_t> deps(G.Tensors.size(), 0);
  std::vector<int> producer(G.Tensors.size(), -1);
  if (G.Inputs.size() > 64)
    return "it has more than 64 inputs";
  for (unsigned i = 0; i < G.Inputs.size(); ++i)
    deps[G.Inputs[i].Tensor] |= uint64_t(1) << i;
  for (unsigned i = 0; i < G.Nodes.size(); ++i) {
    const fe::Node &n = G.Nodes[i];
    for (int t : n.Operands)
      deps[n.Result] |= deps[t];
    producer[n.Result] = int(i);
  }
  const uint64_t decBit = uint64_t(1) << decoder, encBit = uint64_t(1) << encoder;
  plan.onDecoder.assign(G.Tensors.size(), false);
  for (size_t t = 0; t < G.Tensors.size(); ++t)
    plan.onDecoder[t] = deps[t] & decBit;
  auto encoderOnly = [&](int t) { return (deps[t] & encBit) && !(deps[t] & decBit); };

  // The encoder states: the encoder tensors decoder nodes read (T5: each cross-attention's key
  // and value projections), followed back to the one tensor they all come from through ops
  // whose other operands are parameters (T5: the encoder's output, projected by each layer).
  std::set<std::pair<int, int>> read; // (producing node, tensor)
  for (const fe::Node &n : G.Nodes) {
    if (!plan.onDecoder[n.Result])
      continue;
    for (int t : n.Operands)
      if (encoderOnly(t))
        read.insert({producer[t], t});
  }
  std::set<int> boundary; // the encoder tensors decoder nodes read
  for (auto [node, t] : read)
    boundary.insert(t);
  while (read.size() > 1) {
    auto [node, t] = *read.rbegin();
    int from = -1;
    for (int o : G.Nodes[node].Operands)
      if (deps[o] && o != from) {
        if (from >= 0)
          return "its decoder reads more than one tensor of the encoder";
        from = o;
      }
    if (from < 0 || !encoderOnly(from))
      return "its decoder reads more than one tensor of the encoder";
    read.erase(std::prev(read.end()));
    read.insert({producer[from], from});
  }
  if (!read.empty())
    plan.states = read.begin()->second;
  if (plan.states < 0)
    return "its decoder does not read the encoder";
  const fe::TensorType &statesT = G.Tensors[plan.states];
  if (statesT.Type != fe::DType::F32 || statesT.Shape.size() != 3 ||
      !(statesT.Shape[0].Sym == logitsT.Shape[0].Sym &&
        statesT.Shape[0].Size == logitsT.Shape[0].Size))
    return "the encoder output its decoder reads is not [batch, seq, features]";
  const int logits = G.Outputs[G.Loss.Output].Tensor;
  if (!plan.onDecoder[logits])
    return "its logits do not depend on the decoder's ids";

  // What the decoder takes from `encode`: when every encoder tensor it reads is the key or the
  // value of exactly one cross-attention, those keys and values (they depend only on the
  // source and the parameters, so `encode` computes them once per source); otherwise the
  // encoder states, from which each call recomputes what it reads.
  std::map<int, std::string> crossName;
  bool crossOnly = true;
  int cross = 0;
  for (const fe::Node &n : G.Nodes) {
    if (!plan.onDecoder[n.Result])
      continue;
    bool isCross = n.Op == "attention" && !plan.onDecoder[n.Operands[1]];
    for (size_t o = 0; o < n.Operands.size(); ++o) {
      int t = n.Operands[o];
      if (!boundary.count(t))
        continue;
      if (!isCross || (o != 1 && o != 2) || crossName.count(t))
        crossOnly = false;
      else
        crossName[t] = (o == 1 ? "cross_k_" : "cross_v_") + std::to_string(cross);
    }
    cross += isCross;
  }
  for (int t : boundary) {
    const fe::TensorType &type = G.Tensors[t];
    if (!crossName.count(t) || type.Type != fe::DType::F32 || type.Shape.size() != 3)
      crossOnly = false;
  }
  // The runtime binds the decoder's extra inputs by name: none may be a model input's.
  for (const fe::GraphInput &in : G.Inputs)
    for (const auto &[t, name] : crossName)
      if (in.Name == name)
        crossOnly = false;
  if (crossOnly) {
    for (const fe::Node &n : G.Nodes)
      if (n.Op == "attention" && plan.onDecoder[n.Result] && !plan.onDecoder[n.Operands[1]])
        for (int t : {n.Operands[1], n.Operands[2]})
          plan.carried.emplace_back(crossName[t], t);
  } else {
    plan.carried.emplace_back(kEncoderStates, plan.states);
  }

  // Nodes of each entry point: what its results need, stopping at inputs (and, for the
  // decoder, at what it takes from `encode`).
  std::vector<bool> stopAt(G.Tensors.size(), false);
  for (auto &[name, t] : plan.carried)
    stopAt[t] = true;
  auto reach = [&](ArrayRef<int> roots, const std::vector<bool> *stop, std::vector<bool> &nodes) {
    nodes.assign(G.Nodes.size(), false);
    SmallVector<int> work(roots.begin(), roots.end());
    while (!work.empty()) {
      int t = work.pop_back_val();
      if ((stop && (*stop)[t]) || producer[t] < 0 || nodes[producer[t]])
        continue;
      nodes[producer[t]] = true;
      for (int o : G.Nodes[producer[t]].Operands)
        work.push_back(o);
    }
  };
  SmallVector<int> encodeRoots = {plan.states};
  for (auto &[name, t] : plan.carried)
    encodeRoots.push_back(t);
  reach(encodeRoots, nullptr, plan.encodeNodes);
  reach({logits}, &stopAt, plan.decoderNodes);
  std::vector<bool> decoderReads(G.Tensors.size(), false);
  for (unsigned i = 0; i < G.Nodes.size(); ++i)
    if (plan.decoderNodes[i])
      for (int t : G.Nodes[i].Operands)
        decoderReads[t] = true;
  uint64_t encodeDeps = 0;
  for (int t : encodeRoots)
    encodeDeps |= deps[t];
  for (unsigned i = 0; i < G.Inputs.size(); ++i) {
    if (G.Inputs[i].Kind == "labels")
      continue;
    if (encodeDeps & (uint64_t(1) << i))
      plan.encodeInputs.push_back(i);
    if (int(i) != decoder && decoderReads[G.Inputs[i].Tensor])
      plan.decoderInputs.push_back(i);
  }

  bool head = false;
  for (unsigned i = 0; i < G.Nodes.size(); ++i) {
    const fe::Node &n = G.Nodes[i];
    if (!plan.decoderNodes[i])
      continue;
    if (n.Op == "sinusoidal_positions" || n.Op == "pool")
      return "its decoder uses '" + n.Op + "'";
    if (n.Op == "position_embedding" || n.Op == "rotary") {
      const fe::Scalar *offset = n.attr("offset");
      if (offset && offset->I != 0)
        return "it uses a static position offset";
    }
    if (n.Op == "relative_position_bias") {
      if (!(plan.onDecoder[n.Operands[0]] && plan.onDecoder[n.Operands[1]]))
        return "its decoder has a relative position bias that is not over decoder positions";
      // It is computed against the cached keys of the first self-attention reading it.
      for (const fe::Node &user : G.Nodes)
        for (size_t o = 0; o < user.Operands.size(); ++o)
          if (user.Operands[o] == n.Result &&
              (user.Op != "attention" || user.Roles[o] != "bias" ||
               !plan.onDecoder[user.Operands[1]]))
            return "its decoder's relative position bias is read by something other than the "
                   "bias of a self-attention";
    }
    if (n.Result == logits) {
      head = n.Op == "linear" && G.Tensors[n.Operands[0]].Shape.size() == 3;
      if (!head)
        return "its logits are not a linear head over [batch, seq, features]";
    }
    if (n.Op != "attention")
      continue;
    const fe::Scalar *causal = n.attr("causal");
    bool isCausal = causal && causal->B;
    if (!plan.onDecoder[n.Operands[0]])
      return "its decoder has an attention whose queries are not the decoder's";
    if (!plan.onDecoder[n.Operands[1]]) {
      if (isCausal)
        return "its decoder has a causal cross-attention";
      continue; // cross-attention
    }
    if (!isCausal || n.operand("mask") >= 0)
      return "its decoder has a self-attention that is not causal or has a mask";
    const fe::TensorType &k = G.Tensors[n.Operands[1]];
    if (k.Shape.size() != 3 || k.Shape[2].isDynamic() ||
        (plan.kvWidth >= 0 && k.Shape[2].Size != plan.kvWidth))
      return "its decoder's attention layers have different key/value widths";
    plan.kvWidth = k.Shape[2].Size;
    ++plan.layers;
  }
  if (!plan.layers)
    return "its decoder has no self-attention";
  if (!head)
    return "its logits are not a linear head";
  return "";
}

LogicalResult Generator::emitEncode(ModuleOp m, const Seq2SeqPlan &plan) {
  SmallVector<Type> argTypes;
  for (unsigned i : plan.encodeInputs)
    argTypes.push_back(tensorType(G.Tensors[G.Inputs[i].Tensor]));
  // The encoder states, then what the decoder takes besides them (cross keys and values).
  SmallVector<std::pair<std::string, int>> outputs = {{kEncoderStates, plan.states}};
  for (const auto &c : plan.carried)
    if (c.second != plan.states)
      outputs.push_back(c);
  SmallVector<Type> resultTypes;
  for (const auto &o : outputs)
    resultTypes.push_back(tensorType(G.Tensors[o.second]));
  Location l = loc(G.ModelWhere);
  B.setInsertionPointToEnd(m.getBody());
  auto fn = B.create<func::FuncOp>(l, "encode", B.getFunctionType(argTypes, resultTypes));
  for (unsigned a = 0; a < plan.encodeInputs.size(); ++a) {
    const fe::GraphInput &in = G.Inputs[plan.encodeInputs[a]];
    fn.setArgAttr(a, KilnDialect::kInputAttrName, B.getStringAttr(in.Name));
    setArgDims(fn, a, G.Tensors[in.Tensor]);
  }
  for (unsigned r = 0; r < outputs.size(); ++r) {
    fn.setResultAttr(r, KilnDialect::kOutputAttrName, B.getStringAttr(outputs[r].first));
    setResultDims(fn, r, G.Tensors[outputs[r].second]);
  }
  Block *body = fn.addEntryBlock();
  B.setInsertionPointToStart(body);
  llvm::DenseMap<int, Value> values;
  for (unsigned a = 0; a < plan.encodeInputs.size(); ++a)
    values[G.Inputs[plan.encodeInputs[a]].Tensor] = body->getArgument(a);
  for (unsigned i = 0; i < G.Nodes.size(); ++i)
    if (plan.encodeNodes[i] && failed(emitNode(G.Nodes[i], values)))
      return failure();
  SmallVector<Value> results;
  for (const auto &o : outputs)
    results.push_back(values.lookup(o.second));
  B.create<func::ReturnOp>(l, results);
  return success();
}

LogicalResult Generator::emitGeneration(ModuleOp m, StringRef name, bool decode, int64_t kvWidth,
                                        int64_t layers, const Seq2SeqPlan *plan) {
  const fe::GraphInput *idsIn = nullptr;
  for (const fe::GraphInput &in : G.Inputs)
    if (in.Kind == "tokens")
      idsIn = &in;
  if (plan)
    idsIn = &G.Inputs[plan->decoderIds];
  const fe::GraphOutput &out = G.Outputs[G.Loss.Output];
  const fe::TensorType &idsT = G.Tensors[idsIn->Tensor];
  const fe::TensorType &logitsT = G.Tensors[out.Tensor];
  const fe::Dim &batch = idsT.Shape[0];
  Location l = loc(G.ModelWhere);

  fe::TensorType genIds = idsT;
  if (decode)
    genIds.Shape[1] = fe::Dim{1, ""};
  fe::TensorType cache;
  cache.Shape = {fe::Dim{layers, ""}, batch, fe::Dim{G.MaxPositions, ""}, fe::Dim{kvWidth, ""}};
  fe::TensorType logits;
  logits.Shape = {logitsT.Shape[0], logitsT.Shape[2]};
  Type positionType = RankedTensorType::get({1}, B.getI32Type());
  // Encoder-decoder: what the decoder takes from `encode` (the cross-attention keys and
  // values), then the decoder's other inputs (the source mask), between the position and the
  // caches.
  SmallVector<std::pair<std::string, int>> extra; // (input name, tensor)
  if (plan) {
    extra.append(plan->carried.begin(), plan->carried.end());
    for (unsigned i : plan->decoderInputs)
      extra.emplace_back(G.Inputs[i].Name, G.Inputs[i].Tensor);
  }
  const unsigned firstState = 2 + extra.size();
  SmallVector<Type> args = {tensorType(genIds), positionType};
  for (auto &[inName, tensor] : extra)
    args.push_back(tensorType(G.Tensors[tensor]));
  args.append({tensorType(cache), tensorType(cache)});
  SmallVector<Type> results = {tensorType(logits), tensorType(cache), tensorType(cache)};
  B.setInsertionPointToEnd(m.getBody());
  auto fn = B.create<func::FuncOp>(l, name, B.getFunctionType(args, results));
  fn.setArgAttr(0, KilnDialect::kInputAttrName, B.getStringAttr(idsIn->Name));
  setArgDims(fn, 0, genIds);
  fn.setArgAttr(1, KilnDialect::kInputAttrName, B.getStringAttr("position"));
  for (unsigned i = 0; i < extra.size(); ++i) {
    fn.setArgAttr(2 + i, KilnDialect::kInputAttrName, B.getStringAttr(extra[i].first));
    setArgDims(fn, 2 + i, G.Tensors[extra[i].second]);
  }
  fn.setResultAttr(0, KilnDialect::kOutputAttrName, B.getStringAttr(out.Name));
  setResultDims(fn, 0, logits);
  const char *states[] = {"cache_k", "cache_v"};
  for (unsigned i = 0; i < 2; ++i) {
    fn.setArgAttr(firstState + i, KilnDialect::kStateAttrName, B.getStringAttr(states[i]));
    setArgDims(fn, firstState + i, cache);
    fn.setResultAttr(1 + i, KilnDialect::kStateAttrName, B.getStringAttr(states[i]));
    setResultDims(fn, 1 + i, cache);
  }

  Block *body = fn.addEntryBlock();
  B.setInsertionPointToStart(body);
  Value ids = body->getArgument(0);
  // Decode's ids are [batch, 1]; the graph's ops are typed for any sequence length.
  if (decode)
    ids = B.create<tensor::CastOp>(l, tensorType(idsT), ids);
  llvm::DenseMap<int, Value> values;
  values[idsIn->Tensor] = ids;
  for (unsigned i = 0; i < extra.size(); ++i)
    values[extra[i].second] = body->getArgument(2 + i);
  Generation gen;
  gen.position = body->getArgument(1);
  gen.cacheK = body->getArgument(firstState);
  gen.cacheV = body->getArgument(firstState + 1);
  gen.logitsTensor = out.Tensor;
  if (plan)
    gen.onDecoder = &plan->onDecoder;
  for (unsigned i = 0; i < G.Nodes.size(); ++i)
    if ((!plan || plan->decoderNodes[i]) && failed(emitNode(G.Nodes[i], values, &gen)))
      return failure();
  B.create<func::ReturnOp>(l, ValueRange{values.lookup(out.Tensor), gen.cacheK, gen.cacheV});
  return success();
}

OwningOpRef<ModuleOp> Generator::run() {
  Ctx.getOrLoadDialect<KilnDialect>();
  Ctx.getOrLoadDialect<func::FuncDialect>();
  Ctx.getOrLoadDialect<arith::ArithDialect>();
  Ctx.getOrLoadDialect<tensor::TensorDialect>();
  OwningOpRef<ModuleOp> m = ModuleOp::create(loc(G.ModelWhere), StringRef(G.ModelName));
  SmallVector<NamedAttribute> config;
  for (const fe::ConfigValue &c : G.Config)
    config.push_back(B.getNamedAttr(c.Name, scalarAttr(c.Value)));
  (*m)->setAttr(KilnDialect::kConfigAttrName, B.getDictionaryAttr(config));
  if (!G.WeightsPrefixes.empty())
    (*m)->setAttr(KilnDialect::kHfPrefixesAttrName, stringArray(G.WeightsPrefixes));
  if (!G.WeightsIgnore.empty())
    (*m)->setAttr(KilnDialect::kHfIgnoreAttrName, stringArray(G.WeightsIgnore));
  emitParams(*m);
  if (failed(emitForward(*m)))
    return nullptr;
  if (!G.Loss.Kind.empty()) {
    auto fwd = m->lookupSymbol<func::FuncOp>("forward");
    if (failed(emitLoss(*m, fwd)))
      return nullptr;
  }
  // Generation with a runtime-owned KV cache, for decoder-only causal language models.
  int64_t kvWidth = 0, layers = 0;
  if (generationBlocker(kvWidth, layers).empty())
    if (failed(emitGeneration(*m, "prefill", /*decode=*/false, kvWidth, layers)) ||
        failed(emitGeneration(*m, "decode", /*decode=*/true, kvWidth, layers)))
      return nullptr;
  // Encoder-decoder models: the encoder once per source, the decoder with its own KV cache.
  Seq2SeqPlan plan;
  if (seq2seqBlocker(plan).empty())
    if (failed(emitEncode(*m, plan)) ||
        failed(emitGeneration(*m, "prefill", /*decode=*/false, plan.kvWidth, plan.layers,
                              &plan)) ||
        failed(emitGeneration(*m, "decode", /*decode=*/true, plan.kvWidth, plan.layers, &plan)))
      return nullptr;
  if (failed(verify(*m)))
    return nullptr;
  return m;
}

} // namespace

OwningOpRef<ModuleOp> mlirGen(MLIRContext &context, const fe::Graph &graph,
                              const std::string &fileName) {
  Generator gen(context, graph, fileName);
  return gen.run();
}

} // namespace kiln
