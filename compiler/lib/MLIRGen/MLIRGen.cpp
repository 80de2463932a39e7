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

using namespace mlir;

namespace kiln {
namespace {

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
  };

  void emitParams(ModuleOp m);
  LogicalResult emitForward(ModuleOp m);
  LogicalResult emitLoss(ModuleOp m, func::FuncOp forward);
  LogicalResult emitNode(const fe::Node &n, llvm::DenseMap<int, Value> &values,
                         Generation *gen = nullptr);
  /// Why the model gets no prefill/decode entry points; empty when it gets them.
  std::string generationBlocker(int64_t &kvWidth, int64_t &layers) const;
  /// `prefill` (dynamic seq) or `decode` (seq 1).
  LogicalResult emitGeneration(ModuleOp m, StringRef name, bool decode, int64_t kvWidth,
                               int64_t layers);

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
    if (it == values.end())
      return emitError(l) << "internal error: operand of '" << name << "' has no value";
    operands.push_back(it->second);
  }
  Type resultType = tensorType(G.Tensors[n.Result]);
  if (gen) {
    if (n.Op == "position_embedding" || n.Op == "rotary") {
      // Positions start at the number of tokens already cached.
      operands.push_back(gen->position);
    } else if (n.Op == "attention") {
      // Keys and values go into the layer's cache rows; attention reads every cached row.
      auto append = [&](Value &cache, Value rows) {
        auto rowsType = cast<RankedTensorType>(rows.getType());
        auto prefixType =
            RankedTensorType::get({rowsType.getDimSize(0), ShapedType::kDynamic,
                                   rowsType.getDimSize(2)},
                                  rowsType.getElementType());
        auto op = B.create<KVCacheAppendOp>(l, cache.getType(), prefixType, cache, rows,
                                            gen->position, B.getI64IntegerAttr(gen->layer));
        cache = op.getUpdated();
        return op.getPrefix();
      };
      operands[1] = append(gen->cacheK, operands[1]);
      operands[2] = append(gen->cacheV, operands[2]);
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
    st.addAttribute("operandSegmentSizes", B.getDenseI32ArrayAttr({1, 1, 1, mask, bias}));
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

LogicalResult Generator::emitGeneration(ModuleOp m, StringRef name, bool decode, int64_t kvWidth,
                                        int64_t layers) {
  const fe::GraphInput *idsIn = nullptr;
  for (const fe::GraphInput &in : G.Inputs)
    if (in.Kind == "tokens")
      idsIn = &in;
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
  SmallVector<Type> args = {tensorType(genIds), positionType, tensorType(cache), tensorType(cache)};
  SmallVector<Type> results = {tensorType(logits), tensorType(cache), tensorType(cache)};
  B.setInsertionPointToEnd(m.getBody());
  auto fn = B.create<func::FuncOp>(l, name, B.getFunctionType(args, results));
  fn.setArgAttr(0, KilnDialect::kInputAttrName, B.getStringAttr(idsIn->Name));
  setArgDims(fn, 0, genIds);
  fn.setArgAttr(1, KilnDialect::kInputAttrName, B.getStringAttr("position"));
  fn.setResultAttr(0, KilnDialect::kOutputAttrName, B.getStringAttr(out.Name));
  setResultDims(fn, 0, logits);
  const char *states[] = {"cache_k", "cache_v"};
  for (unsigned i = 0; i < 2; ++i) {
    fn.setArgAttr(2 + i, KilnDialect::kStateAttrName, B.getStringAttr(states[i]));
    setArgDims(fn, 2 + i, cache);
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
  Generation gen;
  gen.position = body->getArgument(1);
  gen.cacheK = body->getArgument(2);
  gen.cacheV = body->getArgument(3);
  gen.logitsTensor = out.Tensor;
  for (const fe::Node &n : G.Nodes)
    if (failed(emitNode(n, values, &gen)))
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
