//===- Npy.cpp - NumPy .npy output ----------------------------------------===//
//
// Format 1.0 (numpy.lib.format): magic `\x93NUMPY`, version 1.0, a little-endian u16 header
// length, a Python dict literal padded with spaces to a multiple of 64 bytes and ended by '\n',
// then the raw little-endian C-order data.
//
//===----------------------------------------------------------------------===//
#include "kiln/rt/exec/Executor.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <unistd.h>

namespace kiln::rt::exec {

static const char *npyDescr(DType t) {
  switch (t) {
  case DType::F64: return "<f8";
  case DType::F32: return "<f4";
  case DType::F16: return "<f2";
  case DType::I64: return "<i8";
  case DType::I32: return "<i4";
  case DType::I16: return "<i2";
  case DType::I8: return "|i1";
  case DType::U64: return "<u8";
  case DType::U32: return "<u4";
  case DType::U16: return "<u2";
  case DType::U8: return "|u1";
  case DType::Bool: return "|b1";
  default: return nullptr;
  }
}

Status writeNpy(const std::string &path, const Tensor &tensor) {
  const char *descr = npyDescr(tensor.dtype);
  if (!descr)
    return Status::unsupported(path + ": .npy has no " + dtypeName(tensor.dtype) + " type");
  std::string dict = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < tensor.shape.size(); ++i)
    dict += std::to_string(tensor.shape[i]) + (tensor.shape.size() == 1 || i + 1 < tensor.shape.size() ? "," : "") +
            (i + 1 < tensor.shape.size() ? " " : "");
  dict += "), }";
  size_t total = 10 + dict.size() + 1;
  dict.append((64 - total % 64) % 64, ' ');
  dict += '\n';
  std::string header = "\x93NUMPY";
  header += char(1);
  header += char(0);
  header += char(dict.size() & 0xff);
  header += char(dict.size() >> 8);
  header += dict;

  std::string tmp = path + ".tmp." + std::to_string(getpid());
  FILE *f = std::fopen(tmp.c_str(), "wb");
  if (!f)
    return Status::ioError(path + ": cannot write: " + std::strerror(errno));
  bool ok = std::fwrite(header.data(), 1, header.size(), f) == header.size() &&
            std::fwrite(tensor.bytes.data(), 1, tensor.bytes.size(), f) == tensor.bytes.size();
  ok = (std::fclose(f) == 0) && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    std::remove(tmp.c_str());
    return Status::ioError(path + ": cannot write: " + std::strerror(err));
  }
  return Status::success();
}

} // namespace kiln::rt::exec
