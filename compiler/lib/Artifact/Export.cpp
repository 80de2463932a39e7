//===- Export.cpp - Kiln dialect module -> artifact manifest and .kc file -===//
//
// Reads the kiln dialect into kiln::rt::Manifest. The only translation that is not a copy is
// the Hugging Face slice axis: the dialect counts it in Kiln's layout (after the transpose),
// the manifest in the checkpoint's stored layout (before it).
//
//===----------------------------------------------------------------------===//
#include "kiln/Artifact/Export.h"

#include "kiln/Dialect/Kiln/KilnDialect.h"
#include "kiln/Dialect/Kiln/KilnOps.h"
#include "kiln/rt/artifact/Artifact.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/StringExtras.h"

#include <string>

using namespace mlir;
namespace rt = kiln::rt;

namespace {

/// Maps an MLIR element type to the manifest's element type.
bool convertElementType(Type type, rt::DType &out) {
  if (type.isF64())
    out = rt::DType::F64;
  else if (type.isF32())
    out = rt::DType::F32;
  else if (type.isF16())
    out = rt::DType::F16;
  else if (type.isBF16())
    out = rt::DType::BF16;
  else if (type.isFloat8E4M3FN())
    out = rt::DType::F8E4M3;
  else if (type.isFloat8E5M2())
    out = rt::DType::F8E5M2;
  else if (type.isInteger(1))
    out = rt::DType::Bool;
  else if (auto it = dyn_cast<IntegerType>(type)) {
    bool isUnsigned = it.isUnsigned();
    switch (it.getWidth()) {
    case 8: out = isUnsigned ? rt::DType::U8 : rt::DType::I8; break;
    case 16: out = isUnsigned ? rt::DType::U16 : rt::DType::I16; break;
    case 32: out = isUnsigned ? rt::DType::U32 : rt::DType::I32; break;
    case 64: out = isUnsigned ? rt::DType::U64 : rt::DType::I64; break;
    default: return false;
    }
  } else
    return false;
  return true;
}

rt::InitKind convertInit(kiln::InitKind kind) {
  switch (kind) {
  case kiln::InitKind::Normal: return rt::InitKind::Normal;
  case kiln::InitKind::Zeros: return rt::InitKind::Zeros;
  case kiln::InitKind::Ones: return rt::InitKind::Ones;
  }
  return rt::InitKind::Normal;
}

/// Reads an optional array-of-strings attribute from the module.
LogicalResult readStringList(ModuleOp module, StringRef attrName, bool allowEmpty,
                             std::vector<std::string> &out) {
  out.clear();
  Attribute attr = module->getAttr(attrName);
  if (!attr)
    return success();
  auto array = dyn_cast<ArrayAttr>(attr);
  if (!array)
    return mlir::emitError(module.getLoc()) << "'" << attrName << "' must be an array of strings, got "
                              << attr;
  for (Attribute element : array) {
    auto str = dyn_cast<StringAttr>(element);
    if (!str || (!allowEmpty && str.getValue().empty()))
      return mlir::emitError(module.getLoc()) << "'" << attrName << "' must hold only "
                                << (allowEmpty ? "" : "non-empty ") << "strings, got "
                                << element;
    out.push_back(str.getValue().str());
  }
  return success();
}

/// Converts one argument or result of an entry function into a signature: the kiln.input /
/// kiln.output name, the element type, and the shape with its dynamic dimensions named by
/// kiln.dims (or, without that attribute, `<name>_<axis>`).
LogicalResult convertSignature(func::FuncOp func, Type type, DictionaryAttr attrs,
                               StringRef nameAttr, StringRef what, unsigned index,
                               rt::TensorSignature &out) {
  auto name = attrs ? dyn_cast_or_null<StringAttr>(attrs.get(nameAttr)) : StringAttr();
  if (!name || name.getValue().empty())
    return mlir::emitError(func.getLoc()) << what << " " << index << " of entry point @" << func.getSymName()
                            << " has no '" << nameAttr << "' name";
  out.name = name.getValue().str();
  auto tensor = dyn_cast<RankedTensorType>(type);
  if (!tensor)
    return mlir::emitError(func.getLoc()) << what << " '" << out.name << "' of entry point @"
                            << func.getSymName() << " must be a ranked tensor, got " << type;
  if (!convertElementType(tensor.getElementType(), out.dtype))
    return mlir::emitError(func.getLoc()) << what << " '" << out.name << "' of entry point @"
                            << func.getSymName() << " has element type "
                            << tensor.getElementType()
                            << ", which the artifact format cannot describe";

  ArrayAttr dims = attrs ? dyn_cast_or_null<ArrayAttr>(attrs.get(kiln::kDimsAttrName)) : nullptr;
  if (attrs && attrs.get(kiln::kDimsAttrName) && !dims)
    return mlir::emitError(func.getLoc()) << "'" << kiln::kDimsAttrName << "' of " << what << " '" << out.name
                            << "' must be an array of strings";
  int64_t numDynamic = tensor.getNumDynamicDims();
  if (dims && static_cast<int64_t>(dims.size()) != numDynamic)
    return mlir::emitError(func.getLoc()) << "'" << kiln::kDimsAttrName << "' of " << what << " '" << out.name
                            << "' names " << dims.size() << " dimensions, but " << type
                            << " has " << numDynamic << " dynamic dimensions";

  out.shape.clear();
  unsigned nextDynamic = 0;
  for (auto [axis, size] : llvm::enumerate(tensor.getShape())) {
    if (!ShapedType::isDynamic(size)) {
      out.shape.push_back(rt::Dim::fixed(size));
      continue;
    }
    std::string symbol;
    if (dims) {
      auto str = dyn_cast<StringAttr>(dims[nextDynamic++]);
      if (!str || str.getValue().empty())
        return mlir::emitError(func.getLoc()) << "'" << kiln::kDimsAttrName << "' of " << what << " '"
                                << out.name << "' must hold only non-empty strings";
      symbol = str.getValue().str();
    } else {
      // No names from the model file: a name of this tensor's own, which never wrongly
      // equates the dimensions of two different tensors.
      symbol = out.name + "_" + std::to_string(axis);
      for (char &c : symbol)
        if (!llvm::isAlnum(c))
          c = '_';
      if (llvm::isDigit(symbol[0]))
        symbol.insert(0, "_");
    }
    out.shape.push_back(rt::Dim::symbolic(std::move(symbol)));
  }
  return success();
}

/// The kiln.state name of an argument or result, or empty.
StringRef stateName(DictionaryAttr attrs) {
  auto name = attrs ? dyn_cast_or_null<StringAttr>(attrs.get(kiln::KilnDialect::kStateAttrName))
                    : StringAttr();
  return name ? name.getValue() : StringRef();
}

LogicalResult convertEntryPoint(func::FuncOp func, rt::EntryPoint &out) {
  out.name = func.getSymName().str();
  FunctionType type = func.getFunctionType();
  for (unsigned i = 0, e = type.getNumInputs(); i < e; ++i) {
    rt::TensorSignature sig;
    bool state = !stateName(func.getArgAttrDict(i)).empty();
    if (failed(convertSignature(func, type.getInput(i), func.getArgAttrDict(i),
                                state ? kiln::KilnDialect::kStateAttrName
                                      : kiln::KilnDialect::kInputAttrName,
                                "argument", i, sig)))
      return failure();
    (state ? out.state : out.inputs).push_back(std::move(sig));
  }
  for (unsigned i = 0, e = type.getNumResults(); i < e; ++i) {
    // A state result is the state argument of the same name after the call (same buffer).
    if (StringRef state = stateName(func.getResultAttrDict(i)); !state.empty()) {
      bool matched = false;
      for (unsigned a = 0; a < type.getNumInputs(); ++a)
        matched |= stateName(func.getArgAttrDict(a)) == state && type.getInput(a) == type.getResult(i);
      if (!matched)
        return mlir::emitError(func.getLoc())
               << "state result '" << state << "' of entry point @" << func.getSymName()
               << " has no state argument of the same name and type";
      continue;
    }
    rt::TensorSignature sig;
    if (failed(convertSignature(func, type.getResult(i), func.getResultAttrDict(i),
                                kiln::KilnDialect::kOutputAttrName, "result", i, sig)))
      return failure();
    out.outputs.push_back(std::move(sig));
  }
  return success();
}

LogicalResult convertParameter(kiln::ParamOp param, rt::Parameter &out) {
  out.name = param.getSymName().str();
  auto type = cast<RankedTensorType>(param.getType());
  out.shape.assign(type.getShape().begin(), type.getShape().end());
  // An i8 matrix with `scale` is a quantized linear weight (int8_row).
  bool quantized = param.getScale() && type.getElementType().isInteger(8);
  if (!convertElementType(type.getElementType(), out.dtype) ||
      (!rt::isFloatingPoint(out.dtype) && !quantized))
    return mlir::emitError(param.getLoc()) << "parameter '" << out.name << "' has element type "
                             << type.getElementType()
                             << ", but parameters must be f64, f32, f16 or bf16 (or i8 with a "
                                "'scale')";
  if (quantized) {
    out.quant = rt::Quantization::Int8Row;
    out.scale = param.getScale()->str();
  }
  if (std::optional<StringRef> of = param.getScaleOf())
    out.scaleOf = of->str();
  out.init = convertInit(param.getInit());
  out.initStd = 0;
  if (std::optional<APFloat> std = param.getStd())
    out.initStd = std->convertToDouble();
  if (std::optional<StringRef> hfName = param.getHfName())
    out.hfName = hfName->str();
  out.transpose = param.getHfTranspose();
  if (std::optional<ArrayRef<int64_t>> slice = param.getHfSlice()) {
    if (slice->size() != 3)
      return mlir::emitError(param.getLoc()) << "parameter '" << out.name
                               << "': hf_slice must be [index, count, axis]";
    out.hasSlice = true;
    out.slice.index = (*slice)[0];
    out.slice.count = (*slice)[1];
    // The dialect counts the axis in Kiln's layout; the manifest in the checkpoint's stored
    // layout, which for a transposed (2-D) parameter has the axes swapped.
    int64_t axis = (*slice)[2];
    out.slice.axis = out.transpose ? 1 - axis : axis;
  }
  return success();
}

} // namespace

LogicalResult kiln::buildManifest(ModuleOp module, rt::Manifest &manifest) {
  manifest = rt::Manifest();
  std::optional<StringRef> name = module.getSymName();
  if (!name || name->empty())
    return mlir::emitError(module.getLoc()) << "the module has no name; the artifact needs the model's name "
                                 "(module @name)";
  manifest.model = name->str();

  if (Attribute attr = module->getAttr(kiln::KilnDialect::kConfigAttrName)) {
    auto config = dyn_cast<DictionaryAttr>(attr);
    if (!config)
      return mlir::emitError(module.getLoc()) << "'" << kiln::KilnDialect::kConfigAttrName
                                << "' must be a dictionary";
    for (NamedAttribute entry : config) {
      std::string key = entry.getName().getValue().str();
      Attribute value = entry.getValue();
      rt::ConfigValue converted;
      if (auto b = dyn_cast<BoolAttr>(value))
        converted = rt::ConfigValue::ofBool(b.getValue());
      else if (auto i = dyn_cast<IntegerAttr>(value)) {
        if (i.getType().isInteger(1))
          converted = rt::ConfigValue::ofBool(i.getValue().getBoolValue());
        else
          converted = rt::ConfigValue::ofInt(i.getValue().getSExtValue());
      } else if (auto f = dyn_cast<FloatAttr>(value))
        converted = rt::ConfigValue::ofFloat(f.getValueAsDouble());
      else if (auto s = dyn_cast<StringAttr>(value))
        converted = rt::ConfigValue::ofString(s.getValue().str());
      else
        return mlir::emitError(module.getLoc()) << "config value '" << key
                                  << "' must be an integer, float, boolean or string, got "
                                  << value;
      manifest.config.emplace_back(std::move(key), std::move(converted));
    }
  }

  for (Operation &op : module.getBody()->getOperations()) {
    if (auto param = dyn_cast<kiln::ParamOp>(op)) {
      rt::Parameter p;
      if (failed(convertParameter(param, p)))
        return failure();
      manifest.parameters.push_back(std::move(p));
    } else if (auto func = dyn_cast<func::FuncOp>(op)) {
      if (func.isDeclaration() || func.isPrivate())
        continue;
      rt::EntryPoint entry;
      if (failed(convertEntryPoint(func, entry)))
        return failure();
      manifest.entryPoints.push_back(std::move(entry));
    }
  }

  if (failed(readStringList(module, kHFPrefixesAttrName, /*allowEmpty=*/true,
                            manifest.hfPrefixes)) ||
      failed(readStringList(module, kHFIgnoreAttrName, /*allowEmpty=*/false,
                            manifest.hfIgnore)))
    return failure();

  // The runtime's own validation (unique names, sizes that fit, slices that divide their
  // tensors): a module it would refuse must not become an artifact.
  rt::Status status = rt::validateManifest(manifest, "model '" + manifest.model + "'");
  if (!status.ok())
    return mlir::emitError(module.getLoc()) << status.message();
  return success();
}

LogicalResult kiln::writeArtifact(ModuleOp module, StringRef path) {
  return writeArtifact(module, path, [](rt::Manifest &, rt::ArtifactWriter &) {
    return success();
  });
}

LogicalResult kiln::writeArtifact(ModuleOp module, StringRef path, AddTargetsFn addTargets) {
  rt::Manifest manifest;
  if (failed(buildManifest(module, manifest)))
    return failure();
  rt::ArtifactWriter writer;
  if (failed(addTargets(manifest, writer)))
    return failure();
  writer.setManifest(std::move(manifest));
  rt::Status status = writer.write(path.str());
  if (!status.ok())
    return mlir::emitError(module.getLoc())
           << "cannot write the artifact '" << path << "': " << status.message();
  return success();
}
