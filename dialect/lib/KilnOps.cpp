//===- KilnOps.cpp - kiln dialect ops -------------------------------------===//
//
// Verifiers, result type inference, folders and canonicalization patterns of the kiln ops.
// Each verifier check carries the constraint id that docs/dialect.md lists for it.
//
// Ranks and element kinds are ODS constraints, checked before anything here runs; the
// verifiers compare the static sizes (a dynamic `?` size matches anything) and the
// attribute values. Type inference only needs ranks, so it never fails on verified IR.
//
//===----------------------------------------------------------------------===//
#include "kiln/Dialect/Kiln/KilnOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/IR/TypeUtilities.h"

#include "llvm/Support/MathExtras.h"

#include <cmath>

using namespace mlir;
using namespace kiln;

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

namespace {

/// True when both sizes are static and differ.
bool sizesConflict(int64_t a, int64_t b) {
  return !ShapedType::isDynamic(a) && !ShapedType::isDynamic(b) && a != b;
}

/// A size as the IR spells it: `?` for dynamic.
std::string sizeStr(int64_t size) {
  return ShapedType::isDynamic(size) ? std::string("?") : std::to_string(size);
}

/// a * b for positive attribute values, or nullopt on int64 overflow.
std::optional<int64_t> checkedProduct(uint64_t a, uint64_t b) {
  int64_t result;
  if (a > static_cast<uint64_t>(INT64_MAX) || b > static_cast<uint64_t>(INT64_MAX) ||
      llvm::MulOverflow(static_cast<int64_t>(a), static_cast<int64_t>(b), result))
    return std::nullopt;
  return result;
}

/// Checks `value > 0` and finite.
LogicalResult checkPositiveFinite(Operation *op, StringRef name, double value) {
  if (!(value > 0.0) || !std::isfinite(value))
    return op->emitOpError() << "'" << name << "' must be positive and finite, got " << value;
  return success();
}

/// Checks that a [D] scale/shift vector matches the last dimension of `input`.
LogicalResult checkFeatureVector(Operation *op, StringRef what, RankedTensorType input,
                                 RankedTensorType vec) {
  int64_t features = input.getDimSize(input.getRank() - 1);
  if (sizesConflict(vec.getDimSize(0), features))
    return op->emitOpError() << what << " has " << vec.getDimSize(0)
                             << " elements but the input's last dimension is " << features;
  if (vec.getElementType() != input.getElementType())
    return op->emitOpError() << what << " element type " << vec.getElementType()
                             << " differs from the input element type " << input.getElementType();
  return success();
}

RankedTensorType rankedType(Value value) { return dyn_cast<RankedTensorType>(value.getType()); }

/// Reports that inference got operands the ODS constraints would reject (builders run
/// inference before any verification).
LogicalResult inferError(std::optional<Location> loc, StringRef op, StringRef expected) {
  return emitOptionalError(loc, "'kiln.", op, "' cannot infer its result type: expected ",
                           expected);
}

/// The check InferTypeOpInterface would make, run last in the verifiers of the ops with
/// Kiln_InferResultType so that operand errors come first and the message names both types.
template <typename OpT> LogicalResult verifyInferredResultType(OpT op) {
  SmallVector<Type, 1> inferred;
  if (failed(OpT::inferReturnTypes(op.getContext(), op.getLoc(), op->getOperands(),
                                   op->getAttrDictionary(), op->getPropertiesStorage(),
                                   op->getRegions(), inferred)))
    return failure();
  // <op>_infer
  if (inferred.front() != op.getType())
    return op.emitOpError() << "result type " << op.getType() << " differs from the inferred "
                            << inferred.front();
  return success();
}

} // namespace

//===----------------------------------------------------------------------===//
// custom<EnumKeyword>: an enum attribute spelled as a bare keyword (`gelu`, `mean`)
//===----------------------------------------------------------------------===//

template <typename EnumT> static unsigned maxEnumValue();
template <> unsigned maxEnumValue<ActivationKind>() { return getMaxEnumValForActivationKind(); }
template <> unsigned maxEnumValue<PoolMode>() { return getMaxEnumValForPoolMode(); }

template <typename AttrT> static ParseResult parseEnumKeyword(OpAsmParser &parser, AttrT &attr) {
  using EnumT = decltype(std::declval<AttrT>().getValue());
  SMLoc loc = parser.getCurrentLocation();
  StringRef keyword;
  if (succeeded(parser.parseOptionalKeyword(&keyword)))
    if (std::optional<EnumT> value = symbolizeEnum<EnumT>(keyword)) {
      attr = AttrT::get(parser.getContext(), *value);
      return success();
    }
  InFlightDiagnostic diag = parser.emitError(loc, "expected one of: ");
  for (uint64_t i = 0, e = maxEnumValue<EnumT>(); i <= e; ++i)
    diag << (i ? ", " : "") << stringifyEnum(static_cast<EnumT>(i));
  if (!keyword.empty())
    diag << "; got '" << keyword << "'";
  return diag;
}

template <typename AttrT>
static void printEnumKeyword(OpAsmPrinter &printer, Operation *, AttrT attr) {
  printer << stringifyEnum(attr.getValue());
}

//===----------------------------------------------------------------------===//
// ParamOp
//===----------------------------------------------------------------------===//

LogicalResult ParamOp::verify() {
  RankedTensorType type = getType();
  // param_c1
  if (!type.hasStaticShape())
    return emitOpError() << "type must have a static shape, got " << type;
  // param_c2: floats, or the i8 matrix of a quantized linear weight (param_c12).
  if (!isa<FloatType>(type.getElementType()) && !type.getElementType().isInteger(8))
    return emitOpError() << "element type must be a float, got " << type.getElementType();
  // param_c12
  if (type.getElementType().isInteger(8) != bool(getScale()))
    return emitOpError() << (getScale()
                                 ? "'scale' needs an i8 parameter, got "
                                 : "an i8 parameter needs a 'scale' (its rows' scales), got ")
                         << type;
  if (getScale() && type.getRank() != 2)
    return emitOpError() << "an i8 parameter is a matrix [N, K] quantized per row, got rank "
                         << type.getRank();
  if (getScaleOf()) {
    // param_c13
    if (type.getRank() != 1 || !type.getElementType().isF32())
      return emitOpError() << "'scale_of' needs an f32 vector, got " << type;
    if (getHfName() || getScale())
      return emitOpError() << "the scales of " << getScaleOfAttr()
                           << " are computed when it is loaded: no 'hf_name' or 'scale'";
  }

  std::optional<double> std;
  if (auto stdAttr = getStdAttr())
    std = stdAttr.getValueAsDouble();
  if (getInit() == InitKind::Normal) {
    // param_c3
    if (!std)
      return emitOpError() << "init normal needs a 'std'";
    // param_c4
    if (failed(checkPositiveFinite(*this, "std", *std)))
      return failure();
  } else if (std) {
    // param_c5
    return emitOpError() << "'std' is only meaningful with init normal, not init "
                         << stringifyInitKind(getInit());
  }

  // param_c6
  if (getHfName() && getHfName()->empty())
    return emitOpError() << "'hf_name' must not be empty";
  // param_c7
  if (!getHfName() && (getHfTranspose() || getHfSlice()))
    return emitOpError() << "'" << (getHfTranspose() ? "hf_transpose" : "hf_slice")
                         << "' needs an 'hf_name'";
  // param_c8
  if (getHfTranspose() && type.getRank() != 2)
    return emitOpError() << "'hf_transpose' needs a 2-D parameter, got rank " << type.getRank();
  if (std::optional<ArrayRef<int64_t>> slice = getHfSlice()) {
    // param_c9
    if (slice->size() != 3)
      return emitOpError() << "'hf_slice' must be [index, count, axis], got " << slice->size()
                           << " values";
    int64_t index = (*slice)[0], count = (*slice)[1], axis = (*slice)[2];
    // param_c10
    if (count < 1 || index < 0 || index >= count)
      return emitOpError() << "'hf_slice' index " << index << " must be in [0, count) with count "
                           << count << " >= 1";
    // param_c11
    if (axis < 0 || axis >= type.getRank())
      return emitOpError() << "'hf_slice' axis " << axis << " is out of range for rank "
                           << type.getRank();
  }
  return success();
}

// param_c14: a quantized matrix and its scales name each other, and there is one scale per
// row.
LogicalResult ParamOp::verifySymbolUses(SymbolTableCollection &symbolTable) {
  FlatSymbolRefAttr link = getScale() ? getScaleAttr() : getScaleOfAttr();
  if (!link)
    return success();
  auto other = dyn_cast_or_null<ParamOp>(symbolTable.lookupNearestSymbolFrom(*this, link));
  if (!other)
    return emitOpError() << (getScale() ? "'scale' " : "'scale_of' ") << link
                         << " does not name a kiln.param";
  FlatSymbolRefAttr back = getScale() ? other.getScaleOfAttr() : other.getScaleAttr();
  if (!back || back.getValue() != getSymName())
    return emitOpError() << (getScale() ? "'scale' " : "'scale_of' ") << link
                         << " does not name this parameter back (its '"
                         << (getScale() ? "scale_of" : "scale") << "' is "
                         << (back ? back.getValue() : StringRef("absent")) << ")";
  if (getScale() && sizesConflict(other.getType().getDimSize(0), getType().getDimSize(0)))
    return emitOpError() << "has " << getType().getDimSize(0) << " rows but its scale "
                         << link << " has " << other.getType().getDimSize(0) << " elements";
  return success();
}

//===----------------------------------------------------------------------===//
// ParamRefOp
//===----------------------------------------------------------------------===//

LogicalResult ParamRefOp::verifySymbolUses(SymbolTableCollection &symbolTable) {
  Operation *symbol = symbolTable.lookupNearestSymbolFrom(*this, getNameAttr());
  // param_ref_c1
  if (!symbol)
    return emitOpError() << "'@" << getName() << "' does not name a kiln.param";
  auto param = dyn_cast<ParamOp>(symbol);
  // param_ref_c2
  if (!param)
    return emitOpError() << "'@" << getName() << "' names a '" << symbol->getName()
                         << "', not a kiln.param";
  // param_ref_c3
  if (param.getType() != getType())
    return emitOpError() << "type " << getType() << " differs from the type " << param.getType()
                         << " of kiln.param '@" << getName() << "'";
  return success();
}

//===----------------------------------------------------------------------===//
// EmbeddingOp, PositionEmbeddingOp, SinusoidalPositionsOp
//===----------------------------------------------------------------------===//

/// [B, S] ids and a [V, D] table give [B, S, D].
static LogicalResult inferLookup(std::optional<Location> loc, StringRef opName, Value ids,
                                 Value table, SmallVectorImpl<Type> &inferred) {
  RankedTensorType idsType = rankedType(ids), tableType = rankedType(table);
  if (!idsType || !tableType || idsType.getRank() != 2 || tableType.getRank() != 2)
    return inferError(loc, opName, "[B, S] ids and a [V, D] table");
  // A bf16 table is stored weights of an f32 model: rows are widened as they are read.
  Type element = tableType.getElementType();
  if (element.isBF16())
    element = Float32Type::get(element.getContext());
  inferred.push_back(RankedTensorType::get(
      {idsType.getDimSize(0), idsType.getDimSize(1), tableType.getDimSize(1)}, element));
  return success();
}

LogicalResult EmbeddingOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                            Adaptor adaptor, SmallVectorImpl<Type> &inferred) {
  return inferLookup(loc, "embedding", adaptor.getIds(), adaptor.getTable(), inferred);
}

LogicalResult EmbeddingOp::verify() { return verifyInferredResultType(*this); }

LogicalResult EmbeddingQOp::inferReturnTypes(MLIRContext *context, std::optional<Location> loc,
                                             Adaptor adaptor, SmallVectorImpl<Type> &inferred) {
  if (failed(inferLookup(loc, "embedding_q", adaptor.getIds(), adaptor.getTable(), inferred)))
    return failure();
  // The rows are scaled to f32.
  auto row = cast<RankedTensorType>(inferred.back());
  inferred.back() = RankedTensorType::get(row.getShape(), Float32Type::get(context));
  return success();
}

LogicalResult EmbeddingQOp::verify() {
  // embedding_q_c1
  int64_t rows = getTable().getType().getDimSize(0);
  int64_t scales = getScale().getType().getDimSize(0);
  if (sizesConflict(scales, rows))
    return emitOpError() << "scale has " << scales << " elements but the table has " << rows
                         << " rows";
  return verifyInferredResultType(*this);
}

LogicalResult PositionEmbeddingOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                                    Adaptor adaptor,
                                                    SmallVectorImpl<Type> &inferred) {
  return inferLookup(loc, "position_embedding", adaptor.getIds(), adaptor.getTable(), inferred);
}

/// The run-time position operand holds one value.
static LogicalResult verifyPosition(Operation *op, Value position) {
  if (!position)
    return success();
  auto type = cast<RankedTensorType>(position.getType());
  if (sizesConflict(type.getDimSize(0), 1))
    return op->emitOpError() << "position must hold one value (tensor<1xi32>), got " << type;
  return success();
}

LogicalResult PositionEmbeddingOp::verify() {
  // position_embedding_c2
  if (failed(verifyPosition(*this, getPosition())))
    return failure();
  int64_t seq = getIds().getType().getDimSize(1);
  int64_t positions = getTable().getType().getDimSize(0);
  auto offset = static_cast<int64_t>(getOffset());
  // position_embedding_c1 (written so that a huge offset cannot overflow)
  if (!ShapedType::isDynamic(seq) && !ShapedType::isDynamic(positions) &&
      (seq > positions || offset > positions - seq))
    return emitOpError() << "offset " << offset << " plus sequence length " << seq
                         << " exceeds the table's " << positions << " positions";
  return verifyInferredResultType(*this);
}

LogicalResult SinusoidalPositionsOp::inferReturnTypes(MLIRContext *context,
                                                      std::optional<Location> loc, Adaptor adaptor,
                                                      SmallVectorImpl<Type> &inferred) {
  RankedTensorType ids = rankedType(adaptor.getIds());
  if (!ids || ids.getRank() != 2)
    return inferError(loc, "sinusoidal_positions", "[B, S] ids");
  inferred.push_back(RankedTensorType::get(
      {ids.getDimSize(0), ids.getDimSize(1), static_cast<int64_t>(adaptor.getDim())},
      Float32Type::get(context)));
  return success();
}

LogicalResult SinusoidalPositionsOp::verify() {
  // sinusoidal_positions_c1
  if (getDim() % 2 != 0)
    return emitOpError() << "'dim' must be even (sin/cos pairs), got " << getDim();
  // sinusoidal_positions_c2
  if (failed(checkPositiveFinite(*this, "base", getBase().convertToDouble())))
    return failure();
  return verifyInferredResultType(*this);
}

//===----------------------------------------------------------------------===//
// ScaleOp
//===----------------------------------------------------------------------===//

LogicalResult ScaleOp::verify() {
  // scale_c1
  if (!std::isfinite(getFactor().convertToDouble()))
    return emitOpError() << "'factor' must be finite, got " << getFactor().convertToDouble();
  return success();
}

OpFoldResult ScaleOp::fold(FoldAdaptor) {
  if (getFactor().isExactlyValue(1.0))
    return getInput();
  return {};
}

namespace {
/// scale(scale(x, a), b) -> scale(x, a * b).
struct FoldScaleChain : OpRewritePattern<ScaleOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ScaleOp op, PatternRewriter &rewriter) const override {
    auto inner = op.getInput().getDefiningOp<ScaleOp>();
    if (!inner)
      return rewriter.notifyMatchFailure(op, "input is not a kiln.scale");
    double factor = inner.getFactor().convertToDouble() * op.getFactor().convertToDouble();
    if (!std::isfinite(factor))
      return rewriter.notifyMatchFailure(op, "combined factor overflows");
    rewriter.replaceOpWithNewOp<ScaleOp>(op, inner.getInput(), rewriter.getF64FloatAttr(factor));
    return success();
  }
};
} // namespace

void ScaleOp::getCanonicalizationPatterns(RewritePatternSet &results, MLIRContext *context) {
  results.add<FoldScaleChain>(context);
}

//===----------------------------------------------------------------------===//
// DropoutOp
//===----------------------------------------------------------------------===//

LogicalResult DropoutOp::verify() {
  double rate = getRate().convertToDouble();
  // dropout_c1
  if (!(rate >= 0.0 && rate < 1.0))
    return emitOpError() << "'rate' must be in [0, 1), got " << rate;
  return success();
}

OpFoldResult DropoutOp::fold(FoldAdaptor) {
  if (getRate().isZero())
    return getInput();
  return {};
}

//===----------------------------------------------------------------------===//
// LayerNormOp, RMSNormOp
//===----------------------------------------------------------------------===//

LogicalResult LayerNormOp::verify() {
  // layer_norm_c1, layer_norm_c2
  if (failed(checkFeatureVector(*this, "gamma", getInput().getType(), getGamma().getType())))
    return failure();
  // layer_norm_c3
  return checkPositiveFinite(*this, "eps", getEps().convertToDouble());
}

LogicalResult RMSNormOp::verify() {
  // rms_norm_c1, rms_norm_c2
  if (failed(checkFeatureVector(*this, "gamma", getInput().getType(), getGamma().getType())))
    return failure();
  // rms_norm_c3
  return checkPositiveFinite(*this, "eps", getEps().convertToDouble());
}

//===----------------------------------------------------------------------===//
// LinearOp
//===----------------------------------------------------------------------===//

/// The result of `linear` / `linear_q` (`op`): the input [..., K] with K replaced by the
/// weight's N, in the input's element type.
static LogicalResult inferLinearResult(std::optional<Location> loc, StringRef op, Value inputValue,
                                       Value weightValue, SmallVectorImpl<Type> &inferred) {
  RankedTensorType input = rankedType(inputValue);
  RankedTensorType weight = rankedType(weightValue);
  if (!input || !weight || input.getRank() < 1 || weight.getRank() != 2)
    return inferError(loc, op, "an input [..., K] and a weight [N, K]");
  SmallVector<int64_t> shape(input.getShape());
  shape.back() = weight.getDimSize(0);
  inferred.push_back(RankedTensorType::get(shape, input.getElementType()));
  return success();
}

LogicalResult LinearOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                         Adaptor adaptor, SmallVectorImpl<Type> &inferred) {
  return inferLinearResult(loc, "linear", adaptor.getInput(), adaptor.getWeight(), inferred);
}

LogicalResult LinearOp::verify() {
  RankedTensorType input = getInput().getType(), weight = getWeight().getType();
  int64_t k = input.getDimSize(input.getRank() - 1);
  // linear_c1
  if (sizesConflict(weight.getDimSize(1), k))
    return emitOpError() << "weight " << weight << " is [N, K] with K = " << weight.getDimSize(1)
                         << " but the input's last dimension is " << k;
  // linear_c2: the input's element type, or a narrower storage type (bf16 weights of an f32
  // model, widened as they are read).
  Type wElement = weight.getElementType(), xElement = input.getElementType();
  bool stored = wElement.isBF16() && xElement.isF32();
  if (wElement != xElement && !stored)
    return emitOpError() << "weight element type " << wElement
                         << " differs from the input element type " << xElement
                         << " (a narrower weight type is bf16 with f32 inputs)";
  if (Value bias = getBias()) {
    auto biasType = cast<RankedTensorType>(bias.getType());
    // linear_c3
    if (sizesConflict(biasType.getDimSize(0), weight.getDimSize(0)))
      return emitOpError() << "bias has " << biasType.getDimSize(0)
                           << " elements but the weight has N = " << weight.getDimSize(0);
    // linear_c4
    if (biasType.getElementType() != input.getElementType())
      return emitOpError() << "bias element type " << biasType.getElementType()
                           << " differs from the input element type " << input.getElementType();
  }
  return verifyInferredResultType(*this);
}

//===----------------------------------------------------------------------===//
// LinearQOp
//===----------------------------------------------------------------------===//

LogicalResult LinearQOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                          Adaptor adaptor, SmallVectorImpl<Type> &inferred) {
  return inferLinearResult(loc, "linear_q", adaptor.getInput(), adaptor.getWeight(), inferred);
}

LogicalResult LinearQOp::verify() {
  RankedTensorType input = getInput().getType(), weight = getWeight().getType();
  int64_t k = input.getDimSize(input.getRank() - 1), n = weight.getDimSize(0);
  // linear_q_c1
  if (!input.getElementType().isF32())
    return emitOpError() << "input element type must be f32, got " << input.getElementType();
  // linear_q_c2
  if (sizesConflict(weight.getDimSize(1), k))
    return emitOpError() << "weight " << weight << " is [N, K] with K = " << weight.getDimSize(1)
                         << " but the input's last dimension is " << k;
  // linear_q_c3
  int64_t scales = getScale().getType().getDimSize(0);
  if (sizesConflict(scales, n))
    return emitOpError() << "scale has " << scales << " elements but the weight has N = " << n;
  if (Value bias = getBias()) {
    auto biasType = cast<RankedTensorType>(bias.getType());
    // linear_q_c4
    if (sizesConflict(biasType.getDimSize(0), n))
      return emitOpError() << "bias has " << biasType.getDimSize(0)
                           << " elements but the weight has N = " << n;
    if (!biasType.getElementType().isF32())
      return emitOpError() << "bias element type must be f32, got " << biasType.getElementType();
  }
  return verifyInferredResultType(*this);
}

//===----------------------------------------------------------------------===//
// RotaryOp
//===----------------------------------------------------------------------===//

LogicalResult RotaryOp::verify() {
  // rotary_c4
  if (failed(verifyPosition(*this, getPosition())))
    return failure();
  // rotary_c1
  if (getHeadDim() % 2 != 0)
    return emitOpError() << "'head_dim' must be even (rotate-half pairs), got " << getHeadDim();
  int64_t features = getInput().getType().getDimSize(2);
  std::optional<int64_t> expected = checkedProduct(getNumHeads(), getHeadDim());
  // rotary_c2
  if (!expected)
    return emitOpError() << "num_heads (" << getNumHeads() << ") * head_dim (" << getHeadDim()
                         << ") overflows";
  if (sizesConflict(features, *expected))
    return emitOpError() << "input's last dimension " << features << " is not num_heads ("
                         << getNumHeads() << ") * head_dim (" << getHeadDim()
                         << ") = " << *expected;
  // rotary_c3
  return checkPositiveFinite(*this, "theta", getTheta().convertToDouble());
}

//===----------------------------------------------------------------------===//
// AttentionOp
//===----------------------------------------------------------------------===//

LogicalResult AttentionOp::verify() {
  int64_t heads = getNumHeads(), kvHeads = getNumKvHeads(), headDim = getHeadDim();
  RankedTensorType q = getQuery().getType(), k = getKey().getType();
  // attention_c1
  if (heads % kvHeads != 0)
    return emitOpError() << "num_heads (" << heads << ") must be a multiple of num_kv_heads ("
                         << kvHeads << ")";
  std::optional<int64_t> qWidth = checkedProduct(heads, headDim);
  std::optional<int64_t> kvWidth = checkedProduct(kvHeads, headDim);
  // attention_c2, attention_c3
  if (!qWidth || !kvWidth)
    return emitOpError() << "num_heads (" << heads << ") * head_dim (" << headDim << ") overflows";
  // attention_c2
  if (sizesConflict(q.getDimSize(2), heads * headDim))
    return emitOpError() << "query's last dimension " << q.getDimSize(2) << " is not num_heads ("
                         << heads << ") * head_dim (" << headDim << ") = " << heads * headDim;
  // attention_c3
  if (sizesConflict(k.getDimSize(2), kvHeads * headDim))
    return emitOpError() << "key/value's last dimension " << k.getDimSize(2)
                         << " is not num_kv_heads (" << kvHeads << ") * head_dim (" << headDim
                         << ") = " << kvHeads * headDim;
  // attention_c4
  if (sizesConflict(q.getDimSize(0), k.getDimSize(0)))
    return emitOpError() << "query batch " << q.getDimSize(0) << " differs from key batch "
                         << k.getDimSize(0);
  // attention_c5
  if (q.getElementType() != k.getElementType())
    return emitOpError() << "query element type " << q.getElementType()
                         << " differs from the key/value element type " << k.getElementType();
  if (Value mask = getMask()) {
    auto m = cast<RankedTensorType>(mask.getType());
    // attention_c6
    if (sizesConflict(m.getDimSize(0), q.getDimSize(0)) ||
        sizesConflict(m.getDimSize(1), k.getDimSize(1)))
      return emitOpError() << "mask " << m << " must be [B, T] = [" << sizeStr(q.getDimSize(0))
                           << ", " << sizeStr(k.getDimSize(1)) << "]";
  }
  if (Value bias = getBias()) {
    auto b = cast<RankedTensorType>(bias.getType());
    // attention_c7
    if (sizesConflict(b.getDimSize(0), heads) || sizesConflict(b.getDimSize(1), q.getDimSize(1)) ||
        sizesConflict(b.getDimSize(2), k.getDimSize(1)))
      return emitOpError() << "bias " << b << " must be [H, S, T] = [" << heads << ", "
                           << sizeStr(q.getDimSize(1)) << ", " << sizeStr(k.getDimSize(1)) << "]";
    // attention_c8
    if (b.getElementType() != q.getElementType())
      return emitOpError() << "bias element type " << b.getElementType()
                           << " differs from the query element type " << q.getElementType();
  }
  if (Value position = getPosition()) {
    // attention_c10
    if (!getCausal())
      return emitOpError() << "'position' places causal queries; it needs 'causal'";
    // attention_c11
    if (failed(verifyPosition(*this, position)))
      return failure();
  }
  // attention_c9
  return checkPositiveFinite(*this, "scale", getScale().convertToDouble());
}

//===----------------------------------------------------------------------===//
// KVCacheAppendOp
//===----------------------------------------------------------------------===//

LogicalResult KVCacheAppendOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                                Adaptor adaptor,
                                                SmallVectorImpl<Type> &inferred) {
  RankedTensorType cache = rankedType(adaptor.getCache()), rows = rankedType(adaptor.getRows());
  if (!cache || !rows || cache.getRank() != 4 || rows.getRank() < 3)
    return inferError(loc, "kv_cache_append", "a [L, B, P, E] cache and [B, S, E] rows");
  int64_t batch = cache.getDimSize(1);
  if (ShapedType::isDynamic(batch))
    batch = rows.getDimSize(0);
  int64_t length = adaptor.getCapacity() ? cache.getDimSize(2) : ShapedType::kDynamic;
  inferred.push_back(cache);
  inferred.push_back(
      RankedTensorType::get({batch, length, cache.getDimSize(3)}, cache.getElementType()));
  return success();
}

LogicalResult KVCacheAppendOp::verify() {
  RankedTensorType cache = getCache().getType(), rows = getRows().getType(),
                   prefix = getPrefix().getType();
  int64_t layers = cache.getDimSize(0), positions = cache.getDimSize(2);
  // kv_cache_append_c1
  if (!ShapedType::isDynamic(layers) && static_cast<int64_t>(getLayer()) >= layers)
    return emitOpError() << "layer " << getLayer() << " is outside the cache's " << layers
                         << " layers";
  // kv_cache_append_c2
  if (sizesConflict(rows.getDimSize(2), cache.getDimSize(3)) ||
      sizesConflict(prefix.getDimSize(2), cache.getDimSize(3)))
    return emitOpError() << "rows " << rows << " and prefix " << prefix
                         << " must have the cache's row width " << sizeStr(cache.getDimSize(3));
  // kv_cache_append_c3
  if (sizesConflict(rows.getDimSize(0), cache.getDimSize(1)) ||
      sizesConflict(prefix.getDimSize(0), cache.getDimSize(1)))
    return emitOpError() << "rows " << rows << " and prefix " << prefix
                         << " must have the cache's batch " << sizeStr(cache.getDimSize(1));
  // kv_cache_append_c4
  if (rows.getElementType() != cache.getElementType() ||
      prefix.getElementType() != cache.getElementType())
    return emitOpError() << "rows and prefix must have the cache's element type "
                         << cache.getElementType();
  // kv_cache_append_c5
  if (!ShapedType::isDynamic(rows.getDimSize(1)) && !ShapedType::isDynamic(positions) &&
      rows.getDimSize(1) > positions)
    return emitOpError() << rows.getDimSize(1) << " new rows exceed the cache's " << positions
                         << " positions";
  // kv_cache_append_c6
  if (!getCapacity() && !ShapedType::isDynamic(prefix.getDimSize(1)))
    return emitOpError() << "prefix " << prefix
                         << " must have a dynamic length (position + new rows)";
  // kv_cache_append_c8
  if (getCapacity() && ShapedType::isDynamic(positions))
    return emitOpError() << "'capacity' needs a cache of static capacity, got " << cache;
  // kv_cache_append_c7
  if (failed(verifyPosition(*this, getPosition())))
    return failure();
  SmallVector<Type, 2> inferred;
  Operation *op = getOperation();
  if (failed(inferReturnTypes(getContext(), getLoc(), op->getOperands(), op->getAttrDictionary(),
                              op->getPropertiesStorage(), op->getRegions(), inferred)))
    return failure();
  // kv_cache_append_infer: a dynamic size in the IR may stand for a static inferred one (a
  // dynamic-batch cache appended with static rows), never the other way round.
  if (failed(mlir::verifyCompatibleShape(inferred[1], prefix)) ||
      (getCapacity() && ShapedType::isDynamic(prefix.getDimSize(1))))
    return emitOpError() << "prefix type " << prefix << " differs from the inferred "
                         << inferred[1];
  return success();
}

//===----------------------------------------------------------------------===//
// RelativePositionBiasOp
//===----------------------------------------------------------------------===//

LogicalResult RelativePositionBiasOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                                       Adaptor adaptor,
                                                       SmallVectorImpl<Type> &inferred) {
  RankedTensorType q = rankedType(adaptor.getQuery()), k = rankedType(adaptor.getKey());
  RankedTensorType table = rankedType(adaptor.getTable());
  if (!q || !k || !table || q.getRank() < 2 || k.getRank() < 2)
    return inferError(loc, "relative_position_bias", "query and key of rank >= 2 and a table");
  inferred.push_back(RankedTensorType::get(
      {static_cast<int64_t>(adaptor.getNumHeads()), q.getDimSize(1), k.getDimSize(1)},
      table.getElementType()));
  return success();
}

LogicalResult RelativePositionBiasOp::verify() {
  int64_t buckets = getNumBuckets(), heads = getNumHeads(), maxDistance = getMaxDistance();
  RankedTensorType table = getTable().getType();
  // relative_position_bias_c1
  if (sizesConflict(table.getDimSize(0), buckets) || sizesConflict(table.getDimSize(1), heads))
    return emitOpError() << "table " << table << " must be [num_buckets, num_heads] = [" << buckets
                         << ", " << heads << "]";
  // relative_position_bias_c2
  if (getBidirectional() && buckets % 2 != 0)
    return emitOpError() << "bidirectional buckets are split in two halves; num_buckets " << buckets
                         << " must be even";
  int64_t perDirection = getBidirectional() ? buckets / 2 : buckets;
  int64_t exact = perDirection / 2;
  // relative_position_bias_c3
  if (exact < 1)
    return emitOpError() << "num_buckets " << buckets
                         << " leaves no exact buckets (needs >= " << (getBidirectional() ? 4 : 2)
                         << ")";
  // relative_position_bias_c4
  if (maxDistance <= exact)
    return emitOpError() << "max_distance " << maxDistance
                         << " must exceed the number of exact buckets " << exact;
  // relative_position_bias_c5
  if (failed(verifyPosition(*this, getPosition())))
    return failure();
  return verifyInferredResultType(*this);
}

//===----------------------------------------------------------------------===//
// PoolOp
//===----------------------------------------------------------------------===//

LogicalResult PoolOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc, Adaptor adaptor,
                                       SmallVectorImpl<Type> &inferred) {
  RankedTensorType input = rankedType(adaptor.getInput());
  if (!input || input.getRank() != 3)
    return inferError(loc, "pool", "a [B, S, D] input");
  inferred.push_back(
      RankedTensorType::get({input.getDimSize(0), input.getDimSize(2)}, input.getElementType()));
  return success();
}

LogicalResult PoolOp::verify() {
  if (Value mask = getMask()) {
    auto m = cast<RankedTensorType>(mask.getType());
    RankedTensorType input = getInput().getType();
    // pool_c1
    if (sizesConflict(m.getDimSize(0), input.getDimSize(0)) ||
        sizesConflict(m.getDimSize(1), input.getDimSize(1)))
      return emitOpError() << "mask " << m << " must be [B, S] = [" << sizeStr(input.getDimSize(0))
                           << ", " << sizeStr(input.getDimSize(1)) << "]";
  }
  return verifyInferredResultType(*this);
}

namespace {
/// pool first with a mask -> pool first: the first token is taken whatever the mask says.
struct DropMaskOfFirstPool : OpRewritePattern<PoolOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(PoolOp op, PatternRewriter &rewriter) const override {
    if (op.getMode() != PoolMode::First)
      return rewriter.notifyMatchFailure(op, "mean pooling uses its mask");
    if (!op.getMask())
      return rewriter.notifyMatchFailure(op, "no mask to drop");
    rewriter.modifyOpInPlace(op, [&] { op.getMaskMutable().clear(); });
    return success();
  }
};
} // namespace

void PoolOp::getCanonicalizationPatterns(RewritePatternSet &results, MLIRContext *context) {
  results.add<DropMaskOfFirstPool>(context);
}

//===----------------------------------------------------------------------===//
// CrossEntropyOp
//===----------------------------------------------------------------------===//

LogicalResult CrossEntropyOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                               Adaptor adaptor, SmallVectorImpl<Type> &inferred) {
  RankedTensorType logits = rankedType(adaptor.getLogits());
  if (!logits)
    return inferError(loc, "cross_entropy", "ranked logits");
  inferred.push_back(RankedTensorType::get({}, logits.getElementType()));
  return success();
}

LogicalResult CrossEntropyOp::verify() {
  RankedTensorType logits = getLogits().getType(), labels = getLabels().getType();
  // cross_entropy_c1
  if (labels.getRank() != logits.getRank() - 1)
    return emitOpError() << "labels " << labels << " must have rank " << logits.getRank() - 1
                         << " for logits " << logits
                         << " ([B, S, V] with [B, S], or [B, C] with [B])";
  // cross_entropy_c2
  for (int64_t i = 0; i < labels.getRank(); ++i)
    if (sizesConflict(labels.getDimSize(i), logits.getDimSize(i)))
      return emitOpError() << "labels dimension " << i << " is " << labels.getDimSize(i)
                           << " but logits dimension " << i << " is " << logits.getDimSize(i);
  // cross_entropy_c3
  if (getShift() && logits.getRank() != 3)
    return emitOpError() << "'shift' needs [B, S, V] logits, got " << logits;
  return verifyInferredResultType(*this);
}

#define GET_OP_CLASSES
#include "kiln/Dialect/Kiln/KilnOps.cpp.inc"
