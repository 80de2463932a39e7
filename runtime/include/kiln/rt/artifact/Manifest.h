//===- Manifest.h - What a compiled model artifact describes ----*- C++ -*-===//
//
// The manifest is the artifact's table of contents: the model's name and config values, the
// targets it was compiled for, the entry points with their signatures, and the parameter table.
// It is stored as JSON inside the artifact (see docs/artifact.md); these plain structs are its
// in-memory form, shared by the compiler (which fills them) and the runtime (which reads them).
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RT_ARTIFACT_MANIFEST_H
#define KILN_RT_ARTIFACT_MANIFEST_H

#include "kiln/rt/artifact/DType.h"
#include "kiln/rt/artifact/Status.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kiln::rt {

/// One dimension of a signature: a fixed size, or a symbol (`batch`, `seq`) bound at run time.
struct Dim {
  int64_t size = 0;   ///< the size when `symbol` is empty
  std::string symbol; ///< non-empty for a symbolic dimension

  static Dim fixed(int64_t n) { return Dim{n, {}}; }
  static Dim symbolic(std::string name) { return Dim{0, std::move(name)}; }
  bool isSymbolic() const { return !symbol.empty(); }
  bool operator==(const Dim &o) const { return size == o.size && symbol == o.symbol; }
};

/// A named input or output of an entry point.
struct TensorSignature {
  std::string name;
  DType dtype = DType::F32;
  std::vector<Dim> shape;
};

/// A compiled function of the model (`forward`, `prefill`, `decode`, `train_step` ...).
struct EntryPoint {
  std::string name;
  std::vector<TensorSignature> inputs;
  std::vector<TensorSignature> outputs;
  /// State the caller owns across calls (`prefill`/`decode`: the KV caches `cache_k`,
  /// `cache_v`): allocated zeroed once, passed to every call, read and updated in place.
  std::vector<TensorSignature> state;
  /// (target name, section name) for each target that has a schedule for this entry point.
  std::vector<std::pair<std::string, std::string>> schedules;
};

/// A code target and the section holding its code, e.g. `cpu-x86_64` -> `code/cpu-x86_64`.
struct Target {
  std::string name;
  std::string codeSection;
  /// `cpu-*` targets (format 1.3): the CPU the code was compiled for (an LLVM CPU name such as
  /// `x86-64-v3` or `znver4`); empty in older artifacts.
  std::string cpu;
  /// `cpu-*` targets (format 1.3): the ISA extensions the code may use that the runtime checks
  /// before loading it (kiln/rt/cpu/CPUFeatures.h), sorted; empty in older artifacts.
  std::vector<std::string> cpuFeatures;
};

enum class InitKind { Normal, Zeros, Ones };
/// How a parameter's values relate to its checkpoint tensor. `Int8Row`: an i8 matrix [N, K],
/// the checkpoint tensor quantized symmetrically per output row when it is loaded, with the
/// rows' f32 scales in the parameter named by `scale` (docs/weights.md).
enum class Quantization { None, Int8Row };

const char *initKindName(InitKind kind);
const char *quantizationName(Quantization q);

/// Which part of a fused Hugging Face tensor a parameter is: chunk `index` of `count` equal
/// chunks along `axis` of the stored tensor (e.g. the query third of GPT-2's `c_attn`).
struct ParamSlice {
  int64_t index = 0;
  int64_t count = 1;
  int64_t axis = 0;
};

/// One entry of the parameter table.
struct Parameter {
  std::string name;           ///< the stable Kiln name, e.g. `h.0.attn.q.weight`
  std::vector<int64_t> shape; ///< fixed, resolved from the config at compile time
  /// The storage type of the parameter's buffer (f32, bf16, or i8 with Int8Row: docs/weights.md).
  DType dtype = DType::F32;
  InitKind init = InitKind::Normal;
  double initStd = 0.02;      ///< standard deviation for InitKind::Normal (mean 0)
  std::string hfName;         ///< name in the family's Hugging Face checkpoints; empty: none
  bool transpose = false;     ///< the Hugging Face tensor is the transpose of this one (2-D)
  bool hasSlice = false;      ///< the Hugging Face tensor is fused; `slice` says which part
  ParamSlice slice;
  Quantization quant = Quantization::None;
  /// Int8Row: the f32 [N] parameter that receives the rows' scales.
  std::string scale;
  /// Non-empty: this f32 vector is the scales of the Int8Row parameter so named; it is computed
  /// while that one is loaded and has no checkpoint tensor (no `hfName`).
  std::string scaleOf;

  /// Number of elements (the product of `shape`; shapes are validated not to overflow).
  int64_t numElements() const;
};

/// A config value: the family's Hugging Face config.json keys with their values.
struct ConfigValue {
  enum class Kind { Int, Float, Bool, String } kind = Kind::Int;
  int64_t i = 0;
  double f = 0;
  bool b = false;
  std::string s;

  static ConfigValue ofInt(int64_t v) { ConfigValue c; c.kind = Kind::Int; c.i = v; return c; }
  static ConfigValue ofFloat(double v) { ConfigValue c; c.kind = Kind::Float; c.f = v; return c; }
  static ConfigValue ofBool(bool v) { ConfigValue c; c.kind = Kind::Bool; c.b = v; return c; }
  static ConfigValue ofString(std::string v) {
    ConfigValue c; c.kind = Kind::String; c.s = std::move(v); return c;
  }
  /// The value as JSON text (`768`, `1e-05`, `true`, `"gelu_new"`).
  std::string toString() const;
};

struct Manifest {
  std::string model; ///< model name from the model file, e.g. `gpt2`
  std::vector<std::pair<std::string, ConfigValue>> config;
  std::vector<Target> targets;
  std::vector<EntryPoint> entryPoints;
  std::vector<Parameter> parameters;
  /// Prefixes a Hugging Face checkpoint may put before every `hfName` (`transformer.`, `model.`);
  /// the empty prefix is always accepted.
  std::vector<std::string> hfPrefixes;
  /// Checkpoint tensors that are not parameters and are skipped when loading (tied copies such
  /// as `lm_head.weight`, buffers such as `h.*.attn.bias`). `*` matches any run of characters.
  std::vector<std::string> hfIgnore;

  const Parameter *findParameter(std::string_view name) const;
  const EntryPoint *findEntryPoint(std::string_view name) const;
  const Target *findTarget(std::string_view name) const;
  const ConfigValue *findConfig(std::string_view key) const;
};

/// Checks everything that can be checked without the section table: names non-empty and unique,
/// dims non-negative, element counts that fit in 63 bits, slices and transposes consistent with
/// shapes. `what` prefixes the error message (e.g. the file name).
Status validateManifest(const Manifest &manifest, std::string_view what = "manifest");

/// Parses and validates manifest JSON. Duplicate keys, unknown dtypes, wrong JSON types and
/// everything validateManifest refuses are errors.
Status parseManifest(std::string_view json, Manifest &out, std::string_view what = "manifest");

/// Validates and serializes to JSON (UTF-8, deterministic key order).
Status serializeManifest(const Manifest &manifest, std::string &out);

} // namespace kiln::rt

#endif // KILN_RT_ARTIFACT_MANIFEST_H
