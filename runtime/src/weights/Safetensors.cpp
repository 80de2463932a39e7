//===- Safetensors.cpp - Reading and writing safetensors files ------------===//
#include "kiln/rt/weights/Safetensors.h"

#include "../artifact/Json.h"

#include <algorithm>
#include <cstring>
#include <limits>

namespace kiln::rt {
using detail::Json;

int64_t SafetensorsTensor::numElements() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

namespace {
uint64_t load64le(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i)
    v = (v << 8) | p[i];
  return v;
}

std::string quote(std::string_view s) {
  return Json(std::string(s)).dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string shapeString(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

/// Reads a non-negative JSON integer that fits in 63 bits.
bool getCount(const Json &v, uint64_t &out) {
  if (v.is_number_unsigned()) {
    out = v.get<uint64_t>();
  } else if (v.is_number_integer()) {
    int64_t i = v.get<int64_t>();
    if (i < 0)
      return false;
    out = static_cast<uint64_t>(i);
  } else {
    return false;
  }
  return out <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
}
} // namespace

float halfToFloat(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else { // subnormal: normalize
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while ((mant & 0x400) == 0);
      bits = sign | (uint32_t(127 - 15 - e) << 23) | ((mant & 0x3ff) << 13);
    }
  } else if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

float bfloat16ToFloat(uint16_t b) {
  uint32_t bits = uint32_t(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t floatToBfloat16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if ((bits & 0x7fffffffu) > 0x7f800000u) // NaN: keep sign and top payload bits, set quiet bit
    return uint16_t((bits >> 16) | 0x0040u);
  // Round to nearest, ties to even: add just under half an ulp of the result, plus its low bit.
  // A carry out of the mantissa moves to the next binade, and past the largest finite value to
  // the infinity (exponent all ones, mantissa zero).
  uint32_t rounding = 0x7fffu + ((bits >> 16) & 1u);
  return uint16_t((bits + rounding) >> 16);
}

const SafetensorsTensor *SafetensorsFile::find(std::string_view name) const {
  for (const SafetensorsTensor &t : tensors_)
    if (t.name == name)
      return &t;
  return nullptr;
}

Status SafetensorsFile::open(const std::string &path, SafetensorsFile &out) {
  SafetensorsFile f;
  f.path_ = path;
  Status s = MappedFile::open(path, f.map_);
  if (!s.ok())
    return s;
  f.base_ = f.map_.data();
  f.size_ = f.map_.size();
  if (!(s = f.parse()).ok())
    return s;
  out = std::move(f);
  return Status::success();
}

Status SafetensorsFile::fromBuffer(const uint8_t *data, size_t size, std::string_view name,
                                   SafetensorsFile &out) {
  SafetensorsFile f;
  f.path_ = std::string(name);
  f.base_ = data;
  f.size_ = size;
  Status s = f.parse();
  if (!s.ok())
    return s;
  out = std::move(f);
  return Status::success();
}

Status SafetensorsFile::parse() {
  const std::string &name = path_;
  if (size_ < 8)
    return Status::invalid(name + ": truncated safetensors file: " + std::to_string(size_) +
                           " bytes, the header length alone takes 8");
  uint64_t n = load64le(base_);
  if (n > kMaxSafetensorsHeader)
    return Status::invalid(name + ": not a valid safetensors file: header length " +
                           std::to_string(n) + " exceeds the limit of " +
                           std::to_string(kMaxSafetensorsHeader) + " bytes");
  if (n > size_ - 8)
    return Status::invalid(name + ": truncated safetensors file: the header is " +
                           std::to_string(n) + " bytes, the file has only " +
                           std::to_string(size_ - 8) + " after the length");
  std::string_view header(reinterpret_cast<const char *>(base_ + 8), n);
  if (header.empty() || header[0] != '{')
    return Status::invalid(name + ": not a valid safetensors file: the header does not start "
                                  "with '{'");
  Json root;
  std::string error;
  if (!detail::parseStrictJson(header, root, error, /*maxDepth=*/4))
    return Status::invalid(name + ": invalid safetensors header: " + error);
  if (!root.is_object())
    return Status::invalid(name + ": invalid safetensors header: not a JSON object");

  dataArea_ = base_ + 8 + n;
  uint64_t dataSize = size_ - 8 - n;
  tensors_.clear();
  metadata_.clear();
  for (const auto &kv : root.items()) {
    const std::string &key = kv.key();
    const Json &v = kv.value();
    if (key == "__metadata__") {
      if (v.is_null())
        continue;
      if (!v.is_object())
        return Status::invalid(name + ": invalid safetensors header: __metadata__ must be an "
                                      "object of strings");
      for (const auto &m : v.items()) {
        if (!m.value().is_string())
          return Status::invalid(name + ": invalid safetensors header: __metadata__ value " +
                                 quote(m.key()) + " is not a string");
        metadata_.emplace_back(m.key(), m.value().get<std::string>());
      }
      continue;
    }
    std::string where = name + ": tensor " + quote(key);
    if (!v.is_object())
      return Status::invalid(where + ": header entry is not an object");
    auto dt = v.find("dtype"), sh = v.find("shape"), off = v.find("data_offsets");
    if (dt == v.end() || sh == v.end() || off == v.end())
      return Status::invalid(where + ": header entry needs dtype, shape and data_offsets");
    SafetensorsTensor t;
    t.name = key;
    if (!dt->is_string() || !parseDType(dt->get<std::string>(), t.dtype) ||
        dt->get<std::string>() != dtypeSafetensorsName(t.dtype))
      return Status::invalid(where + ": unknown dtype " + dt->dump(-1, ' ', false,
                                                                  Json::error_handler_t::replace));
    if (!sh->is_array())
      return Status::invalid(where + ": shape is not an array");
    if (sh->size() > 16)
      return Status::invalid(where + ": rank " + std::to_string(sh->size()) + " exceeds 16");
    uint64_t bytes = dtypeSize(t.dtype);
    bool overflow = false, empty = false;
    for (const Json &d : *sh) {
      uint64_t dim;
      if (!getCount(d, dim))
        return Status::invalid(where + ": shape has an entry that is not a non-negative integer");
      t.shape.push_back(static_cast<int64_t>(dim));
      if (dim == 0)
        empty = true; // `bytes` keeps the product of the non-zero dimensions
      else if (bytes > (uint64_t(1) << 62) / dim)
        overflow = true;
      else
        bytes *= dim;
    }
    // A zero dimension makes the tensor empty, but the other dimensions must still multiply
    // without overflow: every later element count is computed in int64_t.
    if (overflow)
      return Status::invalid(where + ": shape " + shapeString(t.shape) + " is too large");
    if (empty)
      bytes = 0;
    if (!off->is_array() || off->size() != 2 || !getCount((*off)[0], t.begin) ||
        !getCount((*off)[1], t.end))
      return Status::invalid(where + ": data_offsets must be [begin, end] non-negative integers");
    if (t.end < t.begin)
      return Status::invalid(where + ": data_offsets [" + std::to_string(t.begin) + ", " +
                             std::to_string(t.end) + "] end before they begin");
    if (t.end > dataSize)
      return Status::invalid(where + ": data [" + std::to_string(t.begin) + ", " +
                             std::to_string(t.end) + ") lies outside the " +
                             std::to_string(dataSize) + "-byte data area (truncated file?)");
    if (t.end - t.begin != bytes)
      return Status::invalid(where + ": data_offsets span " + std::to_string(t.end - t.begin) +
                             " bytes but " + dtypeSafetensorsName(t.dtype) + " " +
                             shapeString(t.shape) + " needs " + std::to_string(bytes));
    tensors_.push_back(std::move(t));
  }
  std::sort(tensors_.begin(), tensors_.end(),
            [](const SafetensorsTensor &a, const SafetensorsTensor &b) {
              if (a.begin != b.begin)
                return a.begin < b.begin;
              return a.end != b.end ? a.end < b.end : a.name < b.name;
            });
  uint64_t expected = 0;
  for (const SafetensorsTensor &t : tensors_) {
    if (t.begin != expected)
      return Status::invalid(name + ": tensor " + quote(t.name) + ": data begins at byte " +
                             std::to_string(t.begin) + " of the data area, expected " +
                             std::to_string(expected) +
                             (t.begin < expected ? " (it overlaps another tensor)"
                                                 : " (a gap precedes it)"));
    expected = t.end;
  }
  if (expected != dataSize)
    return Status::invalid(name + ": the data area has " + std::to_string(dataSize) +
                           " bytes but its tensors cover " + std::to_string(expected));
  return Status::success();
}

Status SafetensorsFile::readF32(const SafetensorsTensor &t, float *out) const {
  const uint8_t *p = bytes(t);
  size_t n = static_cast<size_t>(t.numElements());
  switch (t.dtype) {
  case DType::F32:
    if (n != 0) // an empty tensor may come with null pointers
      std::memcpy(out, p, n * 4);
    return Status::success();
  case DType::F16:
    for (size_t i = 0; i < n; ++i)
      out[i] = halfToFloat(uint16_t(p[2 * i] | (p[2 * i + 1] << 8)));
    return Status::success();
  case DType::BF16:
    for (size_t i = 0; i < n; ++i)
      out[i] = bfloat16ToFloat(uint16_t(p[2 * i] | (p[2 * i + 1] << 8)));
    return Status::success();
  case DType::F64:
    for (size_t i = 0; i < n; ++i) {
      double d;
      std::memcpy(&d, p + 8 * i, 8);
      out[i] = static_cast<float>(d);
    }
    return Status::success();
  default:
    return Status::unsupported(path_ + ": tensor " + quote(t.name) + " is " +
                               dtypeSafetensorsName(t.dtype) +
                               "; weights must be F32, F16, BF16 or F64");
  }
}

Status writeSafetensors(const std::string &path, const std::vector<SafetensorsEntry> &tensors,
                        const std::vector<std::pair<std::string, std::string>> &metadata) {
  Json header = Json::object();
  if (!metadata.empty()) {
    Json m = Json::object();
    for (const auto &kv : metadata)
      m[kv.first] = kv.second;
    header["__metadata__"] = m;
  }
  uint64_t offset = 0;
  std::vector<uint64_t> sizes;
  for (const SafetensorsEntry &t : tensors) {
    if (t.name == "__metadata__" || header.contains(t.name))
      return Status::invalid(path + ": tensor name " + quote(t.name) + " is reserved or repeated");
    uint64_t bytes = dtypeSize(t.dtype);
    for (int64_t d : t.shape) {
      if (d < 0)
        return Status::invalid(path + ": tensor " + quote(t.name) + " has a negative dimension");
      bytes *= static_cast<uint64_t>(d);
    }
    if (!t.data && !t.fill && bytes)
      return Status::invalid(path + ": tensor " + quote(t.name) + " has no data");
    header[t.name] = Json{{"dtype", dtypeSafetensorsName(t.dtype)},
                          {"shape", t.shape},
                          {"data_offsets", Json::array({offset, offset + bytes})}};
    offset += bytes;
    sizes.push_back(bytes);
  }
  std::string text;
  try {
    text = header.dump(-1, ' ', false, Json::error_handler_t::strict);
  } catch (const std::exception &e) {
    return Status::invalid(path + ": " + e.what());
  }
  // Pad with spaces so the data area starts 64-byte aligned in the file (the reference writer
  // pads to 8; any run of trailing spaces is valid JSON). Tensors whose sizes are multiples of
  // 64 bytes then stay 64-byte aligned when the file is mapped and used in place.
  text.append((64 - (8 + text.size()) % 64) % 64, ' ');
  uint8_t len[8];
  for (int i = 0; i < 8; ++i)
    len[i] = uint8_t(uint64_t(text.size()) >> (8 * i));

  AtomicFileWriter file;
  Status s = file.open(path);
  if (!s.ok())
    return s;
  if (!(s = file.write(len, 8)).ok() || !(s = file.write(text.data(), text.size())).ok())
    return s;
  std::vector<uint8_t> scratch;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const SafetensorsEntry &t = tensors[i];
    const void *data = t.data;
    if (!data && sizes[i]) {
      scratch.assign(sizes[i], 0);
      t.fill(scratch.data());
      data = scratch.data();
    }
    if (sizes[i] && !(s = file.write(data, sizes[i])).ok())
      return s;
  }
  return file.commit();
}

} // namespace kiln::rt
