//===- Weights.h - A model's parameters, loaded or initialized --*- C++ -*-===//
//
// Loads every parameter of an artifact's parameter table from a safetensors file, as f32.
// A file written by Kiln (`kiln init`, training checkpoints) uses Kiln names; a Hugging Face
// checkpoint of the model's family loads as it is through each parameter's `hf_name` (with any of
// the model's accepted prefixes, transposes and slices of fused tensors), whether as published on
// the hub or as written by `save_pretrained`. f16 and bf16 are converted to f32. Every missing,
// unexpected or mis-shaped tensor is reported by name in one error, and on any error nothing is
// loaded.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RT_WEIGHTS_WEIGHTS_H
#define KILN_RT_WEIGHTS_WEIGHTS_H

#include "kiln/rt/artifact/Manifest.h"
#include "kiln/rt/artifact/Status.h"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::rt {

class SafetensorsFile;

/// The parameters of one model, in parameter-table order, each a dense row-major f32 tensor.
/// Tensors stored as f32 without transpose or slice are used in place from the mapped file.
/// Move-only.
class WeightSet {
public:
  WeightSet();
  ~WeightSet();
  WeightSet(WeightSet &&) noexcept;
  WeightSet &operator=(WeightSet &&) noexcept;

  /// Loads `manifest`'s parameter table from `path`: a safetensors file, a Hugging Face sharded
  /// checkpoint's `model.safetensors.index.json` (every shard it names), or a folder holding
  /// `model.safetensors` or `model.safetensors.index.json`.
  static Status load(const Manifest &manifest, const std::string &path, WeightSet &out);
  /// Same, from already opened files (which must outlive the result); a tensor name may appear
  /// in only one of them. `name` stands for them in messages.
  static Status load(const Manifest &manifest, const std::vector<const SafetensorsFile *> &files,
                     std::string_view name, WeightSet &out);
  static Status load(const Manifest &manifest, const SafetensorsFile &file, WeightSet &out);

  size_t size() const;
  const Parameter &parameter(size_t i) const;
  const float *data(size_t i) const;
  /// The parameter's data, or null when the table has no such name.
  const float *find(std::string_view name) const;
  /// How the file named its tensors: "kiln" or "hugging face" (with the prefix used).
  const std::string &naming() const;

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Fills `out` (numElements floats) with the parameter's initial values: normal(0, std), zeros
/// or ones. Normal values come from a counter-based generator (SplitMix64 keyed by the seed and
/// the parameter's name, then Box-Muller), so they depend only on (seed, name, index): not on
/// threads, on the order of the table, or on other parameters.
void initializeParameter(const Parameter &param, uint64_t seed, float *out);

/// Initializes every parameter of `manifest` and writes them, with Kiln names, as f32
/// safetensors (atomically), one tensor at a time.
Status writeInitializedWeights(const Manifest &manifest, uint64_t seed, const std::string &path);

} // namespace kiln::rt

#endif // KILN_RT_WEIGHTS_WEIGHTS_H
