//===- Safetensors.h - Reading and writing safetensors files ----*- C++ -*-===//
//
// The safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian
// header length N, N bytes of JSON naming each tensor's dtype, shape and [begin, end) byte range
// in the data area that follows, then the data. The reader memory-maps the file and checks
// everything before handing out a byte: the header length bound, the JSON (UTF-8, no repeated
// keys), dtypes, shapes, that each range matches its shape and lies inside the file, and that
// the ranges cover the data area without gaps or overlaps, as the reference implementation does.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RT_WEIGHTS_SAFETENSORS_H
#define KILN_RT_WEIGHTS_SAFETENSORS_H

#include "kiln/rt/artifact/DType.h"
#include "kiln/rt/artifact/FileIO.h"
#include "kiln/rt/artifact/Status.h"

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kiln::rt {

/// The largest header the reader accepts (the reference implementation's limit).
constexpr uint64_t kMaxSafetensorsHeader = 100'000'000;

struct SafetensorsTensor {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  uint64_t begin = 0; ///< byte offset in the data area
  uint64_t end = 0;

  int64_t numElements() const;
};

/// A validated safetensors file. Move-only; tensor bytes stay valid while it lives.
class SafetensorsFile {
public:
  /// Memory-maps and validates `path`.
  static Status open(const std::string &path, SafetensorsFile &out);
  /// Validates bytes owned by the caller, who keeps them alive. `name` stands for the file.
  static Status fromBuffer(const uint8_t *data, size_t size, std::string_view name,
                           SafetensorsFile &out);

  const std::string &path() const { return path_; }
  /// Tensors in file order (by data offset).
  const std::vector<SafetensorsTensor> &tensors() const { return tensors_; }
  const SafetensorsTensor *find(std::string_view name) const;
  /// The optional `__metadata__` string map, in file order.
  const std::vector<std::pair<std::string, std::string>> &metadata() const { return metadata_; }
  /// The raw little-endian bytes of a tensor of this file.
  const uint8_t *bytes(const SafetensorsTensor &t) const { return dataArea_ + t.begin; }
  /// Releases the memory of a tensor's mapped bytes once they have been copied out (no effect
  /// for fromBuffer files); the bytes stay readable.
  void dropBytes(const SafetensorsTensor &t) const { map_.dropPages(bytes(t), t.end - t.begin); }
  /// Converts an F32, F16, BF16 or F64 tensor to f32 into `out` (numElements() floats).
  Status readF32(const SafetensorsTensor &t, float *out) const;

private:
  Status parse();
  std::string path_;
  MappedFile map_;
  const uint8_t *base_ = nullptr;
  size_t size_ = 0;
  const uint8_t *dataArea_ = nullptr;
  std::vector<SafetensorsTensor> tensors_;
  std::vector<std::pair<std::string, std::string>> metadata_;
};

/// One tensor to write: its bytes come from `data` or, when `data` is null, from `fill`, which
/// is given a buffer of the tensor's size to fill (so large models are written one tensor at a
/// time).
struct SafetensorsEntry {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const void *data = nullptr;
  std::function<void(void *)> fill;
};

/// Writes a safetensors file atomically (temporary file in the same folder, fsync, rename).
/// Tensors are stored in the given order; the header is padded with spaces so that the data area
/// starts at a multiple of 64 bytes, so a tensor is 64-byte aligned in a mapping when the sizes
/// of the tensors before it are multiples of 64 bytes.
Status writeSafetensors(const std::string &path, const std::vector<SafetensorsEntry> &tensors,
                        const std::vector<std::pair<std::string, std::string>> &metadata = {});

/// IEEE half and bfloat16 to float, exact (subnormals, infinities and NaNs included).
float halfToFloat(uint16_t h);
float bfloat16ToFloat(uint16_t b);
/// float to bfloat16, rounded to nearest even: infinities stay infinities, a finite value that
/// rounds past the largest bfloat16 becomes an infinity of its sign (as IEEE rounding does), a
/// NaN stays a NaN (quiet, sign and leading payload bits kept), -0 stays -0, subnormals round
/// like any other value.
uint16_t floatToBfloat16(float f);

} // namespace kiln::rt

#endif // KILN_RT_WEIGHTS_SAFETENSORS_H
