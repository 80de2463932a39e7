//===- Sema.h - Semantic checks and elaboration of Kiln models -----------===//
//
// Evaluates the config (with --set / --config overrides, derived values recomputed), checks
// every statement (names, arity, options, dtypes, shapes, dimension rules, cycles), unrolls
// `repeat`, inlines blocks and builds the Graph. All work is bounded (see the limits below) so
// that no input can hang or exhaust memory; exceeding a limit is a located error.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_FRONTEND_SEMA_H
#define KILN_FRONTEND_SEMA_H

#include "kiln/Frontend/AST.h"
#include "kiln/Frontend/Graph.h"

namespace kiln {
namespace fe {

/// A config value given outside the model file.
struct ConfigOverride {
  std::string Key;
  /// Null: "no value" (JSON null); the declared default is kept.
  bool IsNull = false;
  /// Set when the value is an object or array (only valid for undeclared keys).
  bool IsCompound = false;
  Scalar Value;
  /// "--set" or the config file's name, used in messages.
  std::string Origin;
  /// --set reports unknown keys; config.json ignores them (HF configs carry many).
  bool ErrorIfUnknown = false;
};

struct Limits {
  int64_t MaxRepeat = 4096;
  int64_t MaxDim = (int64_t(1) << 31) - 1;
  int64_t MaxTensorElements = int64_t(1) << 36;
  size_t MaxNodes = 100000;
  size_t MaxParams = 50000;
  size_t MaxStatements = 1000000;
  unsigned MaxCallDepth = 32;
};

/// Checks and elaborates `m`. Returns false when any error was reported.
bool elaborate(const Module &m, const std::vector<ConfigOverride> &overrides, DiagEngine &diags,
               Graph &out, const Limits &limits = Limits());

/// Parses the value of `--set key=value`: an integer, a float, true/false, or a string.
Scalar parseSetValue(const std::string &text);

} // namespace fe
} // namespace kiln

#endif // KILN_FRONTEND_SEMA_H
