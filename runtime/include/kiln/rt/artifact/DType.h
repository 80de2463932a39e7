//===- DType.h - Element types shared by artifacts and weights --*- C++ -*-===//
#ifndef KILN_RT_ARTIFACT_DTYPE_H
#define KILN_RT_ARTIFACT_DTYPE_H

#include <cstddef>
#include <string_view>

namespace kiln::rt {

/// Element types. The manifest spells them in lower case (`f32`), safetensors in upper case
/// (`F32`); both spellings parse.
enum class DType {
  F64, F32, F16, BF16, F8E4M3, F8E5M2,
  I64, I32, I16, I8,
  U64, U32, U16, U8,
  Bool,
};

/// Lower-case name used by the manifest: "f32", "bf16", "i64", "bool", "f8_e4m3" ...
const char *dtypeName(DType type);
/// Upper-case name used by safetensors: "F32", "BF16", "I64", "BOOL", "F8_E4M3" ...
const char *dtypeSafetensorsName(DType type);
/// Parses either spelling. Returns false for anything else.
bool parseDType(std::string_view text, DType &out);
/// Bytes per element.
size_t dtypeSize(DType type);
/// True for F32, F16 and BF16 (and F64): the types weights may be stored in.
bool isFloatingPoint(DType type);

} // namespace kiln::rt

#endif // KILN_RT_ARTIFACT_DTYPE_H
