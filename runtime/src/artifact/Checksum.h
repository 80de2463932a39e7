//===- Checksum.h - XXH3-64 checksums for artifacts -------------*- C++ -*-===//
#ifndef KILN_RT_SRC_ARTIFACT_CHECKSUM_H
#define KILN_RT_SRC_ARTIFACT_CHECKSUM_H

#include <cstddef>
#include <cstdint>

namespace kiln::rt::detail {

/// XXH3-64 (seed 0) of `size` bytes.
uint64_t checksum(const void *data, size_t size);

/// XXH3-64 of a whole artifact, reading the 8 bytes at `fieldOffset` as zeros (where the
/// checksum itself is stored).
uint64_t checksumExcluding(const void *data, size_t size, size_t fieldOffset);

} // namespace kiln::rt::detail

#endif // KILN_RT_SRC_ARTIFACT_CHECKSUM_H
