//===- MLIRGen.cpp - Emit kiln dialect IR from an elaborated Kiln model ---===//
//
// The Graph built by Sema is already unrolled and shape-checked, so emission is a walk over its
// nodes in order: one kiln op per node, one SSA value per tensor.
//
//===----------------------------------------------------------------------===//
#include "kiln/MLIRGen/MLIRGen.h"

#include "kiln/Dialect/Kiln/KilnDialect.h"
#include "kiln/Dialect/Kiln/KilnOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
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

  void emitParams(ModuleOp m);
  LogicalResult emitForward(ModuleOp m);
  LogicalResult emitLoss(ModuleOp m, func::FuncOp forward);
  LogicalResult emitNode(const fe::Node &n, llvm::DenseMap<int, Value> &values);

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

LogicalResult Generator::emitNode(const fe::Node &n, llvm::DenseMap<int, Value> &values) {
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
  st.addOperands(operands);
  st.addTypes(tensorType(G.Tensors[n.Result]));
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

OwningOpRef<ModuleOp> Generator::run() {
  Ctx.getOrLoadDialect<KilnDialect>();
  Ctx.getOrLoadDialect<func::FuncDialect>();
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
