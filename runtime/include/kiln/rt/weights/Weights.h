//===- Weights.h - A model's parameters, loaded or initialized --*- C++ -*-===//
//
// Loads every parameter of an artifact's parameter table from a safetensors file, each in the
// dtype the table gives it: f32, bf16, or i8 (int8_row). A file written by Kiln (`kiln init`,
// training checkpoints) uses Kiln names; a Hugging Face checkpoint of the model's family loads
// as it is through each parameter's `hf_name` (with any of the model's accepted prefixes,
// transposes and slices of fused tensors), whether as published on the hub or as written by
// `save_pretrained`.
// Stored F32, F16, BF16 and F64 tensors are converted to the parameter's dtype (to bf16 with
// round-to-nearest-even). An int8_row parameter is quantized from its checkpoint tensor row by
// row (quantizeRowInt8), which also fills the f32 parameter holding its scales (`scale_of`;
// never read from a file). Every missing, unexpected or mis-shaped tensor is reported by name in
// one error, and on any error nothing is loaded.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RT_WEIGHTS_WEIGHTS_H
#define KILN_RT_WEIGHTS_WEIGHTS_H

#include "kiln/rt/artifact/DType.h"
#include "kiln/rt/artifact/Manifest.h"
#include "kiln/rt/artifact/Status.h"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::rt {

class SafetensorsFile;

/// The parameters of one model, in parameter-table order, each a dense row-major little-endian
/// tensor in its table dtype (f32, bf16, or i8 for int8_row parameters; any other table dtype is
/// refused by `load`). A stored
/// tensor of the parameter's own dtype without transpose or slice is used in place from the
/// mapped file; anything else is converted into memory the set owns (64-byte aligned).
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
  /// The parameter's dtype, `parameter(i).dtype`: DType::F32, DType::BF16 or DType::I8.
  DType dtype(size_t i) const;
  /// The parameter's bytes (`byteSize(i)` of them): dense, row-major, little-endian, in
  /// `dtype(i)`; a bf16 value is the upper half of the f32 bit pattern.
  const void *bytes(size_t i) const;
  /// `parameter(i).numElements() * dtypeSize(dtype(i))`.
  size_t byteSize(size_t i) const;
  /// The values of an f32 parameter; null when the parameter is stored in another dtype.
  const float *f32(size_t i) const;
  /// The index of the parameter named `name`, or size() when the table has no such name.
  size_t indexOf(std::string_view name) const;
  /// bytes(indexOf(name)), or null when the table has no such name.
  const void *find(std::string_view name) const;
  /// f32(indexOf(name)), or null when the table has no such name or it is not f32.
  const float *findF32(std::string_view name) const;
  /// How the file named its tensors: "kiln" or "hugging face" (with the prefix used).
  const std::string &naming() const;

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Quantizes one row of an int8_row parameter: `scale = max_k |w[k]| / 127` and
/// `q[k] = round_half_to_even(w[k] / scale)` clamped to [-127, 127], everything in f32 (so that
/// the largest magnitude maps to +-127). A row of zeros (or one whose scale underflows to zero)
/// gets scale 1 and q = 0, as does a row holding an infinity or NaN, for which it returns false.
bool quantizeRowInt8(const float *w, size_t k, int8_t *q, float *scale);

/// Fills `out` (numElements floats) with the parameter's initial values: normal(0, std), zeros
/// or ones. Normal values come from a counter-based generator (SplitMix64 keyed by the seed and
/// the parameter's name, then Box-Muller), so they depend only on (seed, name, index): not on
/// threads, on the order of the table, or on other parameters.
void initializeParameter(const Parameter &param, uint64_t seed, float *out);

/// Initializes every parameter of `manifest` and writes them, with Kiln names, as safetensors
/// (atomically), one tensor at a time, each in its table dtype: F32, or BF16 (the f32 initial
/// values rounded to nearest even), so that the file loads in place. An int8_row parameter is
/// written as its F32 initial values, the source `load` quantizes as it quantizes a checkpoint;
/// scale parameters are not written. Any other table dtype is refused as `load` refuses it.
Status writeInitializedWeights(const Manifest &manifest, uint64_t seed, const std::string &path);

/// Success when every parameter of `manifest`'s table has a dtype `WeightSet` loads (f32, bf16,
/// i8 with int8_row quantization);
/// otherwise an error naming the first parameter that does not, prefixed by `where`.
Status checkParameterDTypes(const Manifest &manifest, std::string_view where);

/// Success when every parameter of `manifest`'s table is f32, which training (optimizer steps
/// updating the parameters, checkpoints of them) needs; otherwise an error naming the first
/// parameter that is not ("model.kc: parameter 'h.0.attn.q.weight' is stored as bf16; training
/// needs f32 parameters: compile without --weight-dtype=bf16"), prefixed by `where`. Anything
/// that updates parameters calls it before doing any work.
Status checkTrainableParameters(const Manifest &manifest, std::string_view where);

} // namespace kiln::rt

#endif // KILN_RT_WEIGHTS_WEIGHTS_H
