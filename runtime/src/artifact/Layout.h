//===- Layout.h - Byte layout of the artifact header ------------*- C++ -*-===//
//
// docs/artifact.md is the specification; these constants mirror it. All integers are
// little-endian.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RT_SRC_ARTIFACT_LAYOUT_H
#define KILN_RT_SRC_ARTIFACT_LAYOUT_H

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace kiln::rt::detail {

/// PNG-style magic: a non-ASCII byte, the name, then CR LF, ^Z and LF, which catch text-mode
/// transfers that would corrupt the binary.
constexpr uint8_t kMagic[8] = {0x89, 'K', 'I', 'L', 'N', '\r', '\n', 0x1a};

constexpr size_t kHeaderSize = 64;
constexpr size_t kOffMagic = 0;          // 8 bytes
constexpr size_t kOffVersionMajor = 8;   // u16
constexpr size_t kOffVersionMinor = 10;  // u16
constexpr size_t kOffHeaderSize = 12;    // u32: bytes of header + section table
constexpr size_t kOffRequiredFlags = 16; // u32: readers refuse bits they do not know
constexpr size_t kOffOptionalFlags = 20; // u32: readers ignore bits they do not know
constexpr size_t kOffFileSize = 24;      // u64
constexpr size_t kOffSectionCount = 32;  // u32
constexpr size_t kOffReserved0 = 36;     // u32, zero
constexpr size_t kOffFileChecksum = 40;  // u64: XXH3-64 of the file with this field zeroed
constexpr size_t kOffReserved1 = 48;     // 16 bytes, zero

constexpr size_t kSectionEntrySize = 80;
constexpr size_t kEntryOffName = 0; // 48 bytes, NUL-padded
constexpr size_t kEntryNameSize = 48;
constexpr size_t kEntryOffKind = 48;     // u32
constexpr size_t kEntryOffFlags = 52;    // u32, zero
constexpr size_t kEntryOffOffset = 56;   // u64
constexpr size_t kEntryOffSize = 64;     // u64
constexpr size_t kEntryOffChecksum = 72; // u64: XXH3-64 of the section's bytes

constexpr uint32_t kMaxSections = 65536;

inline uint16_t load16(const uint8_t *p) { return uint16_t(p[0] | (p[1] << 8)); }
inline uint32_t load32(const uint8_t *p) {
  return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24);
}
inline uint64_t load64(const uint8_t *p) {
  return uint64_t(load32(p)) | (uint64_t(load32(p + 4)) << 32);
}
inline void store16(uint8_t *p, uint16_t v) { p[0] = uint8_t(v); p[1] = uint8_t(v >> 8); }
inline void store32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; ++i)
    p[i] = uint8_t(v >> (8 * i));
}
inline void store64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; ++i)
    p[i] = uint8_t(v >> (8 * i));
}

} // namespace kiln::rt::detail

#endif // KILN_RT_SRC_ARTIFACT_LAYOUT_H
