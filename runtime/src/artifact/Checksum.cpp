//===- Checksum.cpp - XXH3-64 checksums for artifacts ---------------------===//
//
// xxHash (libxxhash-dev) is compiled inline so that the runtime and its fuzzers need no
// library for it. XXH3 checks a cached file at memory speed, so every load verifies everything.
//
//===----------------------------------------------------------------------===//
#include "Checksum.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace kiln::rt::detail {

uint64_t checksum(const void *data, size_t size) { return XXH3_64bits(data, size); }

uint64_t checksumExcluding(const void *data, size_t size, size_t fieldOffset) {
  const auto *p = static_cast<const uint8_t *>(data);
  static const uint8_t zeros[8] = {};
  XXH3_state_t state;
  XXH3_64bits_reset(&state);
  XXH3_64bits_update(&state, p, fieldOffset);
  XXH3_64bits_update(&state, zeros, 8);
  XXH3_64bits_update(&state, p + fieldOffset + 8, size - fieldOffset - 8);
  return XXH3_64bits_digest(&state);
}

} // namespace kiln::rt::detail
