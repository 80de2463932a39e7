//===- Export.h - Kiln dialect module -> artifact manifest and .kc file ---===//
//
// The compiler side of the artifact contract (docs/artifact.md): reads a verified kiln-dialect
// module (kiln.param symbols, the kiln.config dictionary, the entry functions and their
// kiln.input / kiln.output names) into the runtime's Manifest, and writes the `.kc` file with
// the runtime's ArtifactWriter. docs/artifact-export.md describes the mapping.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_ARTIFACT_EXPORT_H
#define KILN_ARTIFACT_EXPORT_H

#include "kiln/rt/artifact/Manifest.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LogicalResult.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/StringRef.h"

namespace kiln::rt {
class ArtifactWriter;
} // namespace kiln::rt

namespace kiln {

/// Module attribute: the Hugging Face checkpoint prefixes, in the order a loader tries them
/// (an array of strings; "" stands for no prefix).
constexpr llvm::StringLiteral kHFPrefixesAttrName = "kiln.hf_prefixes";
/// Module attribute: glob patterns of checkpoint tensors that are not parameters (an array of
/// non-empty strings).
constexpr llvm::StringLiteral kHFIgnoreAttrName = "kiln.hf_ignore";
/// Function argument / result attribute: the names of the dynamic dimensions of that tensor
/// as the model file names them, in order, one string per `?` (`["batch", "seq"]`).
constexpr llvm::StringLiteral kDimsAttrName = "kiln.dims";

/// Fills `manifest` (replacing its contents) from `module`: the model name (the module's
/// symbol name), config, one entry point per public function with a body, the parameter table
/// in module order, and the Hugging Face prefixes and ignore list. The target list is left
/// empty: code sections are added by the targets. Reports every problem through the module's
/// diagnostic handler (with the location of the offending op) and returns failure.
mlir::LogicalResult buildManifest(mlir::ModuleOp module, kiln::rt::Manifest &manifest);

/// Builds the manifest and writes the artifact to `path` atomically. The artifact has no code
/// sections (its target list is empty) until a code generator adds them.
mlir::LogicalResult writeArtifact(mlir::ModuleOp module, llvm::StringRef path);

/// Adds the code of one or more targets to an artifact being written: appends to
/// `manifest.targets` (and the entry points' `schedules`) and adds the sections they name to
/// `writer`. Reports its own errors and returns failure to abandon the file.
using AddTargetsFn =
    llvm::function_ref<mlir::LogicalResult(kiln::rt::Manifest &, kiln::rt::ArtifactWriter &)>;

/// As above, with the targets' code added by `addTargets` before the file is written.
mlir::LogicalResult writeArtifact(mlir::ModuleOp module, llvm::StringRef path,
                                  AddTargetsFn addTargets);

} // namespace kiln

#endif // KILN_ARTIFACT_EXPORT_H
