//===- DType.cpp - Element type names and sizes ---------------------------===//
#include "kiln/rt/artifact/DType.h"

namespace kiln::rt {
namespace {
struct DTypeEntry {
  DType type;
  const char *lower;
  const char *upper;
  size_t size;
};
constexpr DTypeEntry kDTypes[] = {
    {DType::F64, "f64", "F64", 8},         {DType::F32, "f32", "F32", 4},
    {DType::F16, "f16", "F16", 2},         {DType::BF16, "bf16", "BF16", 2},
    {DType::F8E4M3, "f8_e4m3", "F8_E4M3", 1}, {DType::F8E5M2, "f8_e5m2", "F8_E5M2", 1},
    {DType::I64, "i64", "I64", 8},         {DType::I32, "i32", "I32", 4},
    {DType::I16, "i16", "I16", 2},         {DType::I8, "i8", "I8", 1},
    {DType::U64, "u64", "U64", 8},         {DType::U32, "u32", "U32", 4},
    {DType::U16, "u16", "U16", 2},         {DType::U8, "u8", "U8", 1},
    {DType::Bool, "bool", "BOOL", 1},
};

const DTypeEntry &entry(DType type) {
  for (const DTypeEntry &e : kDTypes)
    if (e.type == type)
      return e;
  return kDTypes[1];
}
} // namespace

const char *dtypeName(DType type) { return entry(type).lower; }
const char *dtypeSafetensorsName(DType type) { return entry(type).upper; }
size_t dtypeSize(DType type) { return entry(type).size; }

bool parseDType(std::string_view text, DType &out) {
  for (const DTypeEntry &e : kDTypes) {
    if (text == e.lower || text == e.upper) {
      out = e.type;
      return true;
    }
  }
  return false;
}

bool isFloatingPoint(DType type) {
  return type == DType::F64 || type == DType::F32 || type == DType::F16 || type == DType::BF16;
}

} // namespace kiln::rt
