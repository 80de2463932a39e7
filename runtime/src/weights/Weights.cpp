//===- Weights.cpp - Loading parameters by the parameter table ------------===//
//
// Naming: a file written by Kiln uses the parameter table's names; a Hugging Face checkpoint uses
// each parameter's hf_name, possibly behind one of the model's accepted prefixes. The loader
// counts how many parameters each naming finds and uses the better one (Kiln names on a tie), so
// a Kiln-written file never picks up a Hugging Face tensor by accident and vice versa. All
// problems are collected and reported together; nothing is returned unless everything fits.
//
//===----------------------------------------------------------------------===//
#include "kiln/rt/weights/Weights.h"
#include "kiln/rt/weights/Safetensors.h"

#include "../artifact/Json.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <sys/stat.h>
#include <unordered_map>

// safetensors data is little-endian and tensors of a parameter's dtype are used in place.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "Kiln's runtime needs a little-endian host");

namespace kiln::rt {

namespace {
struct AlignedFree {
  void operator()(void *p) const { std::free(p); }
};
using AlignedBuffer = std::unique_ptr<void, AlignedFree>;

AlignedBuffer allocate(size_t bytes) {
  void *p = nullptr;
  if (posix_memalign(&p, 64, std::max<size_t>(bytes, 1)) != 0)
    return nullptr;
  return AlignedBuffer(p);
}

std::string shapeString(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

/// Glob match with `*` standing for any run of characters.
bool globMatch(std::string_view pattern, std::string_view text) {
  size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*')
    ++p;
  return p == pattern.size();
}

/// Converts `count` elements starting at element `first` of a stored tensor to f32.
void convertRun(const SafetensorsFile &file, const SafetensorsTensor &t, size_t first,
                size_t count, float *out) {
  const uint8_t *p = file.bytes(t);
  switch (t.dtype) {
  case DType::F32:
    if (count != 0)
      std::memcpy(out, p + 4 * first, 4 * count);
    break;
  case DType::F16:
    p += 2 * first;
    for (size_t i = 0; i < count; ++i)
      out[i] = halfToFloat(uint16_t(p[2 * i] | (p[2 * i + 1] << 8)));
    break;
  case DType::BF16:
    p += 2 * first;
    for (size_t i = 0; i < count; ++i)
      out[i] = bfloat16ToFloat(uint16_t(p[2 * i] | (p[2 * i + 1] << 8)));
    break;
  case DType::F64:
    p += 8 * first;
    for (size_t i = 0; i < count; ++i) {
      double d;
      std::memcpy(&d, p + 8 * i, 8);
      out[i] = static_cast<float>(d);
    }
    break;
  default:
    break; // excluded before conversion
  }
}

/// How one parameter is taken from the file.
struct Source {
  const SafetensorsFile *file = nullptr;
  const SafetensorsTensor *tensor = nullptr;
  bool transpose = false;
  bool hasSlice = false;
  ParamSlice slice;
};

/// The shape a source yields, or an empty optional-like flag when the slice does not divide.
bool sourceShape(const Source &src, std::vector<int64_t> &shape) {
  shape = src.tensor->shape;
  if (src.hasSlice) {
    if (src.slice.axis >= static_cast<int64_t>(shape.size()))
      return false;
    int64_t &d = shape[src.slice.axis];
    if (d % src.slice.count != 0)
      return false;
    d /= src.slice.count;
  }
  if (src.transpose) {
    if (shape.size() != 2)
      return false;
    std::swap(shape[0], shape[1]);
  }
  return true;
}

/// Stored elements converted at a time through f32 when the parameter is not f32.
constexpr size_t kChunk = size_t(1) << 14;
/// Columns of a transposed matrix converted at a time: the scratch holds rows x kColumns floats.
constexpr size_t kColumns = 32;

/// The floats of scratch `materialize` needs for a source of `n` elements.
size_t scratchFloats(const Source &src, size_t n) {
  if (!src.transpose)
    return kChunk;
  size_t rows = static_cast<size_t>(src.tensor->shape[0]);
  if (src.hasSlice && src.slice.axis == 0)
    rows /= static_cast<size_t>(src.slice.count);
  return n == 0 ? 0 : rows * kColumns;
}

/// Rounds `count` f32 values to bf16 (nearest even).
void roundRun(const float *v, size_t count, uint16_t *out) {
  for (size_t i = 0; i < count; ++i)
    out[i] = floatToBfloat16(v[i]);
}

/// The stored matrix [R, C], possibly sliced, as the matrix [rows, cols] whose element (r, c) is
/// stored at element base + r * storedCols + c (a transposed source's view before the
/// transpose).
struct MatrixView {
  size_t rows, cols, storedCols, base;
};

MatrixView matrixView(const Source &src) {
  const std::vector<int64_t> &shape = src.tensor->shape;
  MatrixView v{static_cast<size_t>(shape[0]), static_cast<size_t>(shape[1]),
               static_cast<size_t>(shape[1]), 0};
  if (src.hasSlice) {
    size_t count = static_cast<size_t>(src.slice.count);
    size_t index = static_cast<size_t>(src.slice.index);
    if (src.slice.axis == 0) {
      v.rows /= count;
      v.base = index * v.rows * v.storedCols;
    } else {
      v.cols /= count;
      v.base = index * v.cols;
    }
  }
  return v;
}

/// Materializes a source as a dense tensor of `n` elements of `type` (F32 or BF16) in `out`:
/// each stored value converted to f32, then to `type`. `scratch` holds scratchFloats() floats;
/// no other memory is used, so a bf16 parameter never needs an f32 copy of itself.
void materialize(const Source &src, DType type, void *out, size_t n, float *scratch) {
  const SafetensorsFile &file = *src.file;
  const SafetensorsTensor &t = *src.tensor;
  const std::vector<int64_t> &shape = t.shape;
  // Copies `count` stored elements from element `first` to element `at` of out.
  auto copyRun = [&](size_t first, size_t count, size_t at) {
    if (type == DType::F32) {
      convertRun(file, t, first, count, static_cast<float *>(out) + at);
      return;
    }
    for (size_t done = 0; done < count; done += kChunk) {
      size_t k = std::min(kChunk, count - done);
      convertRun(file, t, first + done, k, scratch);
      roundRun(scratch, k, static_cast<uint16_t *>(out) + at + done);
    }
  };
  if (!src.transpose) {
    if (!src.hasSlice) {
      copyRun(0, n, 0);
      return;
    }
    size_t axis = static_cast<size_t>(src.slice.axis);
    size_t outer = 1, inner = 1;
    for (size_t i = 0; i < axis; ++i)
      outer *= static_cast<size_t>(shape[i]);
    for (size_t i = axis + 1; i < shape.size(); ++i)
      inner *= static_cast<size_t>(shape[i]);
    size_t full = static_cast<size_t>(shape[axis]);
    size_t chunk = full / static_cast<size_t>(src.slice.count);
    size_t start = chunk * static_cast<size_t>(src.slice.index);
    for (size_t o = 0; o < outer; ++o)
      copyRun((o * full + start) * inner, chunk * inner, o * chunk * inner);
    return;
  }
  // Rank 2: out gets the transpose [cols, rows] of the view. kColumns columns at a time go
  // through the scratch.
  if (n == 0)
    return;
  auto [rows, cols, storedCols, base] = matrixView(src);
  for (size_t c0 = 0; c0 < cols; c0 += kColumns) {
    size_t w = std::min(kColumns, cols - c0);
    for (size_t r = 0; r < rows; ++r)
      convertRun(file, t, base + r * storedCols + c0, w, scratch + r * kColumns);
    for (size_t c = 0; c < w; ++c) {
      size_t at = (c0 + c) * rows;
      if (type == DType::F32) {
        float *o = static_cast<float *>(out) + at;
        for (size_t r = 0; r < rows; ++r)
          o[r] = scratch[r * kColumns + c];
      } else {
        uint16_t *o = static_cast<uint16_t *>(out) + at;
        for (size_t r = 0; r < rows; ++r)
          o[r] = floatToBfloat16(scratch[r * kColumns + c]);
      }
    }
  }
}

/// Materializes an int8_row parameter [N, K] from a 2-D source: each row as K f32 values in
/// `row`, then quantized into `q` and `scales` (quantizeRowInt8). `scratch` holds
/// scratchFloats() floats; nothing is as large as the parameter in f32. Returns the first row
/// holding an infinity or NaN, or N when there is none.
size_t materializeInt8Row(const Source &src, int8_t *q, float *scales, size_t N, size_t K,
                          float *scratch, float *row) {
  const SafetensorsFile &file = *src.file;
  const SafetensorsTensor &t = *src.tensor;
  size_t bad = N;
  auto quantize = [&](size_t r) {
    if (!quantizeRowInt8(row, K, q + r * K, &scales[r]) && bad == N)
      bad = r;
  };
  if (N == 0 || K == 0) {
    std::fill(scales, scales + N, 1.0f);
    return bad;
  }
  MatrixView v = matrixView(src);
  if (!src.transpose) {
    // Row r of the parameter is row r of the view.
    for (size_t r = 0; r < N; ++r) {
      convertRun(file, t, v.base + r * v.storedCols, K, row);
      quantize(r);
    }
    return bad;
  }
  // Row r of the parameter is column r of the view, kColumns of them at a time.
  for (size_t c0 = 0; c0 < v.cols; c0 += kColumns) {
    size_t w = std::min(kColumns, v.cols - c0);
    for (size_t r = 0; r < v.rows; ++r)
      convertRun(file, t, v.base + r * v.storedCols + c0, w, scratch + r * kColumns);
    for (size_t c = 0; c < w; ++c) {
      for (size_t r = 0; r < v.rows; ++r)
        row[r] = scratch[r * kColumns + c];
      quantize(c0 + c);
    }
  }
  return bad;
}

void appendList(std::string &msg, const char *label, const std::vector<std::string> &items) {
  if (items.empty())
    return;
  constexpr size_t kShown = 40;
  msg += "\n  " + std::string(label) + " (" + std::to_string(items.size()) + "):";
  for (size_t i = 0; i < items.size() && i < kShown; ++i)
    msg += "\n    " + items[i];
  if (items.size() > kShown)
    msg += "\n    ... and " + std::to_string(items.size() - kShown) + " more";
}
} // namespace

struct WeightSet::Impl {
  std::vector<std::unique_ptr<SafetensorsFile>> ownedFiles;
  std::vector<Parameter> params;
  std::vector<const void *> data;
  std::vector<AlignedBuffer> owned;
  std::string naming;
};

WeightSet::WeightSet() : impl_(std::make_unique<Impl>()) {}
WeightSet::~WeightSet() = default;
WeightSet::WeightSet(WeightSet &&) noexcept = default;
WeightSet &WeightSet::operator=(WeightSet &&) noexcept = default;

size_t WeightSet::size() const { return impl_->params.size(); }
const Parameter &WeightSet::parameter(size_t i) const { return impl_->params[i]; }
DType WeightSet::dtype(size_t i) const { return impl_->params[i].dtype; }
const void *WeightSet::bytes(size_t i) const { return impl_->data[i]; }
size_t WeightSet::byteSize(size_t i) const {
  const Parameter &p = impl_->params[i];
  return static_cast<size_t>(p.numElements()) * dtypeSize(p.dtype);
}
const float *WeightSet::f32(size_t i) const {
  return impl_->params[i].dtype == DType::F32 ? static_cast<const float *>(impl_->data[i])
                                              : nullptr;
}
const std::string &WeightSet::naming() const { return impl_->naming; }
size_t WeightSet::indexOf(std::string_view name) const {
  for (size_t i = 0; i < impl_->params.size(); ++i)
    if (impl_->params[i].name == name)
      return i;
  return impl_->params.size();
}
const void *WeightSet::find(std::string_view name) const {
  size_t i = indexOf(name);
  return i < size() ? bytes(i) : nullptr;
}
const float *WeightSet::findF32(std::string_view name) const {
  size_t i = indexOf(name);
  return i < size() ? f32(i) : nullptr;
}

bool quantizeRowInt8(const float *w, size_t k, int8_t *q, float *scale) {
  // Written so that the compiler vectorizes both loops (no early exit, no call to nearbyint
  // per element): loading GPT-2 124M as int8 took 0.71-0.83 s, mostly here, and takes
  // 0.35-0.37 s (bench/README.md "Queries share key rows ...").
  float maxAbs = 0.0f;
  bool nonFinite = false;
  for (size_t i = 0; i < k; ++i) {
    float a = std::fabs(w[i]);
    nonFinite |= !(a <= std::numeric_limits<float>::max()); // infinity or NaN
    maxAbs = a > maxAbs ? a : maxAbs;
  }
  float s = maxAbs / 127.0f;
  if (nonFinite || !(s > 0.0f)) {
    // A zero row (or one so small that its scale underflows to zero): every q is 0 and the
    // scale 1, so the row reads as exact zeros.
    std::fill(q, q + k, int8_t(0));
    *scale = 1.0f;
    return !nonFinite;
  }
  // Adding and subtracting 1.5 * 2^23 rounds |v| < 2^22 to an integer, half to even (the
  // default rounding mode), exactly as nearbyint does.
  const float round = 12582912.0f;
  for (size_t i = 0; i < k; ++i) {
    // f32 division, then round half to even; |w| <= maxAbs makes |w / s| <= 127 up to one
    // rounding, which the clamp absorbs.
    float v = (w[i] / s + round) - round;
    v = v < -127.0f ? -127.0f : v;
    v = v > 127.0f ? 127.0f : v;
    q[i] = static_cast<int8_t>(v);
  }
  *scale = s;
  return true;
}

Status checkParameterDTypes(const Manifest &manifest, std::string_view where) {
  for (const Parameter &p : manifest.parameters)
    if (p.dtype != DType::F32 && p.dtype != DType::BF16 &&
        !(p.dtype == DType::I8 && p.quant == Quantization::Int8Row))
      return Status::unsupported(std::string(where) + ": parameter '" + p.name + "' of model '" +
                                 manifest.model + "' is stored as " + dtypeName(p.dtype) +
                                 " in the parameter table; kiln loads f32 and bf16 parameters "
                                 "and int8_row quantized i8 ones");
  return Status::success();
}

Status checkTrainableParameters(const Manifest &manifest, std::string_view where) {
  for (const Parameter &p : manifest.parameters)
    if (p.dtype != DType::F32)
      return Status::unsupported(std::string(where) + ": parameter '" + p.name +
                                 "' is stored as " + dtypeName(p.dtype) +
                                 "; training needs f32 parameters: compile without "
                                 "--weight-dtype=" +
                                 (p.dtype == DType::I8 ? "int8" : dtypeName(p.dtype)));
  return Status::success();
}

namespace {
bool endsWith(const std::string &s, const char *suffix) {
  size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

bool isFile(const std::string &path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

/// Opens the shards a Hugging Face `model.safetensors.index.json` lists and checks that its
/// weight map and the shards agree.
Status openSharded(const std::string &indexPath,
                   std::vector<std::unique_ptr<SafetensorsFile>> &files) {
  MappedFile map;
  Status s = MappedFile::open(indexPath, map);
  if (!s.ok())
    return s;
  detail::Json root;
  std::string error;
  if (!detail::parseStrictJson(
          std::string_view(reinterpret_cast<const char *>(map.data()), map.size()), root, error))
    return Status::invalid(indexPath + ": " + error);
  auto wm = root.find("weight_map");
  if (!root.is_object() || wm == root.end() || !wm->is_object())
    return Status::invalid(indexPath + ": not a safetensors index (no \"weight_map\" object)");
  size_t slash = indexPath.rfind('/');
  std::string dir = slash == std::string::npos ? "" : indexPath.substr(0, slash + 1);
  std::map<std::string, std::string> tensorToShard;
  std::map<std::string, size_t> shardIndex;
  for (const auto &kv : wm->items()) {
    if (!kv.value().is_string())
      return Status::invalid(indexPath + ": weight_map value for \"" + kv.key() +
                             "\" is not a file name");
    std::string shard = kv.value().get<std::string>();
    if (shard.empty() || shard.find('/') != std::string::npos)
      return Status::invalid(indexPath + ": weight_map names \"" + shard +
                             "\", which is not a file name in the index's folder");
    tensorToShard[kv.key()] = shard;
    if (!shardIndex.count(shard)) {
      auto f = std::make_unique<SafetensorsFile>();
      if (!(s = SafetensorsFile::open(dir + shard, *f)).ok())
        return s;
      shardIndex[shard] = files.size();
      files.push_back(std::move(f));
    }
  }
  for (const auto &ts : tensorToShard)
    if (!files[shardIndex[ts.second]]->find(ts.first))
      return Status::invalid(indexPath + ": weight_map puts \"" + ts.first + "\" in " +
                             ts.second + ", which does not contain it");
  for (const auto &f : files)
    for (const SafetensorsTensor &t : f->tensors()) {
      auto it = tensorToShard.find(t.name);
      if (it == tensorToShard.end() || dir + it->second != f->path())
        return Status::invalid(indexPath + ": " + f->path() + " contains \"" + t.name +
                               "\", which the weight_map does not place there");
    }
  return Status::success();
}
} // namespace

Status WeightSet::load(const Manifest &manifest, const std::string &path, WeightSet &out) {
  std::vector<std::unique_ptr<SafetensorsFile>> files;
  std::string source = path;
  struct stat st;
  bool isDir = ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  if (isDir) {
    std::string dir = endsWith(path, "/") ? path : path + "/";
    if (isFile(dir + "model.safetensors"))
      source = dir + "model.safetensors";
    else if (isFile(dir + "model.safetensors.index.json"))
      source = dir + "model.safetensors.index.json";
    else
      return Status::invalid(path + ": folder has neither model.safetensors nor "
                                    "model.safetensors.index.json");
  }
  Status s;
  if (endsWith(source, ".index.json")) {
    s = openSharded(source, files);
  } else {
    files.push_back(std::make_unique<SafetensorsFile>());
    s = SafetensorsFile::open(source, *files.back());
  }
  if (!s.ok())
    return s;
  std::vector<const SafetensorsFile *> shards;
  for (const auto &f : files)
    shards.push_back(f.get());
  WeightSet result;
  if (!(s = load(manifest, shards, source, result)).ok())
    return s;
  result.impl_->ownedFiles = std::move(files);
  out = std::move(result);
  return Status::success();
}

Status WeightSet::load(const Manifest &manifest, const SafetensorsFile &file, WeightSet &out) {
  return load(manifest, {&file}, file.path(), out);
}

Status WeightSet::load(const Manifest &manifest, const std::vector<const SafetensorsFile *> &files,
                       std::string_view name, WeightSet &out) {
  const std::vector<Parameter> &params = manifest.parameters;
  if (Status s = checkParameterDTypes(manifest, name); !s.ok())
    return s;
  // Every tensor of every file, by name.
  struct Ref {
    const SafetensorsFile *file;
    const SafetensorsTensor *tensor;
  };
  std::unordered_map<std::string_view, Ref> tensors;
  for (const SafetensorsFile *f : files)
    for (const SafetensorsTensor &t : f->tensors())
      if (!tensors.emplace(t.name, Ref{f, &t}).second)
        return Status::invalid(std::string(name) + ": tensor \"" + t.name +
                               "\" appears in two files");
  auto find = [&](const std::string &n) -> Ref {
    auto it = tensors.find(n);
    return it == tensors.end() ? Ref{nullptr, nullptr} : it->second;
  };
  // A Hugging Face name, also under the legacy names of checkpoints ported from TensorFlow
  // (BERT's `LayerNorm.gamma` / `LayerNorm.beta`), which transformers renames on load too.
  auto findHf = [&](const std::string &n) -> Ref {
    Ref r = find(n);
    if (r.tensor)
      return r;
    auto legacy = [&](std::string_view from, std::string_view to) -> Ref {
      if (n.size() < from.size() || n.compare(n.size() - from.size(), from.size(), from) != 0)
        return Ref{nullptr, nullptr};
      return find(n.substr(0, n.size() - from.size()) + std::string(to));
    };
    if ((r = legacy("LayerNorm.weight", "LayerNorm.gamma")).tensor)
      return r;
    return legacy("LayerNorm.bias", "LayerNorm.beta");
  };
  std::vector<std::string> prefixes = manifest.hfPrefixes;
  prefixes.push_back("");

  // Choose the naming.
  size_t kilnHits = 0, hfHits = 0;
  for (const Parameter &p : params) {
    if (!p.scaleOf.empty())
      continue; // computed while its matrix loads: never in a file
    if (find(p.name).tensor)
      ++kilnHits;
    if (!p.hfName.empty())
      for (const std::string &prefix : prefixes)
        if (findHf(prefix + p.hfName).tensor) {
          ++hfHits;
          break;
        }
  }
  bool kilnNames = kilnHits >= hfHits;

  std::vector<Source> sources(params.size());
  std::vector<std::string> missing, misshaped, unexpected;
  std::set<std::string> used, prefixesUsed;
  for (size_t i = 0; i < params.size(); ++i) {
    const Parameter &p = params[i];
    Source &src = sources[i];
    if (!p.scaleOf.empty())
      continue;
    if (kilnNames) {
      Ref r = find(p.name);
      src.file = r.file;
      src.tensor = r.tensor;
      if (!src.tensor) {
        missing.push_back(p.name);
        continue;
      }
    } else {
      if (p.hfName.empty()) {
        missing.push_back(p.name + " (it has no Hugging Face name)");
        continue;
      }
      for (const std::string &prefix : prefixes) {
        Ref r = findHf(prefix + p.hfName);
        src.file = r.file;
        if ((src.tensor = r.tensor)) {
          if (!prefix.empty())
            prefixesUsed.insert(prefix);
          break;
        }
      }
      if (!src.tensor) {
        missing.push_back(p.hfName + " (for " + p.name + ")");
        continue;
      }
      src.transpose = p.transpose;
      src.hasSlice = p.hasSlice;
      src.slice = p.slice;
    }
    used.insert(src.tensor->name);
    if (!isFloatingPoint(src.tensor->dtype)) {
      misshaped.push_back(src.tensor->name + ": dtype " + dtypeSafetensorsName(src.tensor->dtype) +
                          " (weights must be F32, F16, BF16 or F64)");
      continue;
    }
    std::vector<int64_t> shape;
    bool fits = sourceShape(src, shape);
    if (!fits || shape != p.shape) {
      std::string how;
      if (src.hasSlice)
        how += ", slice " + std::to_string(src.slice.index) + " of " +
               std::to_string(src.slice.count) + " along axis " + std::to_string(src.slice.axis);
      if (src.transpose)
        how += ", transposed";
      misshaped.push_back(src.tensor->name + ": shape " + shapeString(src.tensor->shape) +
                          (fits ? " gives " + shapeString(shape) : " cannot be split that way") +
                          how + ", but " + p.name + " is " + shapeString(p.shape));
    }
  }
  for (const auto &entry : tensors) {
    const SafetensorsTensor &t = *entry.second.tensor;
    if (used.count(t.name))
      continue;
    bool ignored = false;
    if (!kilnNames) {
      for (const std::string &pattern : manifest.hfIgnore) {
        for (const std::string &prefix : prefixes) {
          if (t.name.compare(0, prefix.size(), prefix) == 0 &&
              globMatch(pattern, std::string_view(t.name).substr(prefix.size()))) {
            ignored = true;
            break;
          }
        }
        if (ignored)
          break;
      }
    }
    if (!ignored)
      unexpected.push_back(t.name);
  }

  std::string naming = "kiln";
  if (!kilnNames) {
    naming = "hugging face";
    for (const std::string &prefix : prefixesUsed)
      naming += (naming.size() == 12 ? " (prefix " : ", ") + ("'" + prefix + "'");
    if (!prefixesUsed.empty())
      naming += ")";
  }
  if (!missing.empty() || !misshaped.empty() || !unexpected.empty()) {
    std::sort(unexpected.begin(), unexpected.end());
    std::string msg = std::string(name) + ": the weights do not fit model '" + manifest.model +
                      "' (matching by " + (kilnNames ? "Kiln" : "Hugging Face") + " names)";
    appendList(msg, "missing", missing);
    appendList(msg, "unexpected", unexpected);
    appendList(msg, "mis-shaped", misshaped);
    return Status::invalid(msg);
  }

  auto impl = std::make_unique<Impl>();
  impl->params = params;
  impl->naming = naming;
  impl->data.resize(params.size());
  // Once the last parameter taken from a tensor has been copied out, its mapped pages are
  // released, so a converted or transposed checkpoint is not resident twice.
  std::map<const SafetensorsTensor *, size_t> lastUser;
  std::set<const SafetensorsTensor *> usedInPlace;
  for (size_t i = 0; i < params.size(); ++i)
    if (sources[i].tensor)
      lastUser[sources[i].tensor] = i;
  std::vector<float> scratch;
  std::vector<std::string> nonFinite;
  for (size_t i = 0; i < params.size(); ++i) {
    const Source &src = sources[i];
    DType type = params[i].dtype;
    size_t n = static_cast<size_t>(params[i].numElements());
    if (!src.tensor)
      continue; // a scale vector: filled with its matrix
    const uint8_t *bytes = src.file->bytes(*src.tensor);
    if (params[i].quant == Quantization::Int8Row) {
      size_t rows = static_cast<size_t>(params[i].shape[0]);
      size_t cols = static_cast<size_t>(params[i].shape[1]);
      size_t s = manifest.parameters.size();
      for (size_t j = 0; j < params.size(); ++j)
        if (params[j].name == params[i].scale)
          s = j;
      AlignedBuffer q = allocate(n), scales = allocate(rows * sizeof(float));
      if (!q || !scales || s == params.size())
        return Status::ioError(std::string(name) + ": out of memory loading " + params[i].name);
      size_t need = scratchFloats(src, n) + cols;
      if (scratch.size() < need)
        scratch.resize(need);
      size_t bad = materializeInt8Row(src, static_cast<int8_t *>(q.get()),
                                      static_cast<float *>(scales.get()), rows, cols,
                                      scratch.data() + cols, scratch.data());
      if (bad != rows)
        nonFinite.push_back(src.tensor->name + " (for " + params[i].name + "): row " +
                            std::to_string(bad));
      impl->data[i] = q.get();
      impl->data[s] = scales.get();
      impl->owned.push_back(std::move(q));
      impl->owned.push_back(std::move(scales));
      if (lastUser[src.tensor] == i && !usedInPlace.count(src.tensor))
        src.file->dropBytes(*src.tensor);
      continue;
    }
    if (src.tensor->dtype == type && !src.hasSlice && !src.transpose &&
        reinterpret_cast<uintptr_t>(bytes) % dtypeSize(type) == 0) {
      impl->data[i] = bytes;
      usedInPlace.insert(src.tensor);
      continue;
    }
    AlignedBuffer buf = allocate(n * dtypeSize(type));
    if (!buf)
      return Status::ioError(std::string(name) + ": out of memory loading " + params[i].name);
    size_t need = scratchFloats(src, n);
    if (scratch.size() < need)
      scratch.resize(need);
    materialize(src, type, buf.get(), n, scratch.data());
    impl->data[i] = buf.get();
    impl->owned.push_back(std::move(buf));
    if (lastUser[src.tensor] == i && !usedInPlace.count(src.tensor))
      src.file->dropBytes(*src.tensor);
  }
  if (!nonFinite.empty()) {
    std::string msg = std::string(name) + ": cannot quantize to int8 a row holding an infinity "
                                          "or NaN";
    appendList(msg, "rows", nonFinite);
    return Status::invalid(msg);
  }
  out.impl_ = std::move(impl);
  return Status::success();
}

} // namespace kiln::rt
