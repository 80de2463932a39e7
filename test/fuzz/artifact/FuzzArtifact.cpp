//===- FuzzArtifact.cpp - libFuzzer entry for the artifact reader ---------===//
//
// The first byte picks what the rest is:
//   0: an artifact as it is (checksums included: almost every mutation is refused early);
//   1: an artifact whose section and file checksums are recomputed first, so mutations reach
//      the section table checks and the manifest parser;
//   2: manifest JSON, parsed directly.
// Any input must be accepted or refused with a message; crashes, hangs and sanitizer reports
// are findings. An accepted artifact's sections must lie inside the input.
//
//===----------------------------------------------------------------------===//
#include "kiln/rt/artifact/Artifact.h"

#include "../../../runtime/src/artifact/Checksum.h"
#include "../../../runtime/src/artifact/Layout.h"

#include <cstdlib>
#include <vector>

using namespace kiln::rt;
using namespace kiln::rt::detail;

static void fixChecksums(std::vector<uint8_t> &b) {
  if (b.size() < kHeaderSize)
    return;
  store64(&b[kOffFileSize], b.size());
  uint32_t count = load32(&b[kOffSectionCount]);
  for (uint64_t i = 0; i < count && kHeaderSize + (i + 1) * kSectionEntrySize <= b.size(); ++i) {
    uint8_t *e = &b[kHeaderSize + i * kSectionEntrySize];
    uint64_t off = load64(e + kEntryOffOffset), size = load64(e + kEntryOffSize);
    if (off <= b.size() && size <= b.size() - off)
      store64(e + kEntryOffChecksum, checksum(b.data() + off, size));
  }
  store64(&b[kOffFileChecksum], checksumExcluding(b.data(), b.size(), kOffFileChecksum));
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  uint8_t mode = data[0] % 3;
  std::vector<uint8_t> bytes(data + 1, data + size);
  if (mode == 2) {
    Manifest m;
    Status s = parseManifest(std::string_view(reinterpret_cast<const char *>(bytes.data()),
                                              bytes.size()),
                             m);
    if (s.ok()) {
      std::string again;
      if (!serializeManifest(m, again).ok())
        std::abort(); // a parsed manifest must serialize
      Manifest m2;
      if (!parseManifest(again, m2).ok())
        std::abort(); // ... and parse back
    } else if (s.message().empty()) {
      std::abort();
    }
    return 0;
  }
  if (mode == 1)
    fixChecksums(bytes);
  Artifact a;
  Status s = Artifact::fromBytes(bytes.data(), bytes.size(), "fuzz.kc", a);
  if (!s.ok()) {
    if (s.message().empty())
      std::abort();
    return 0;
  }
  for (const SectionInfo &sec : a.sections()) {
    if (sec.offset > bytes.size() || sec.size > bytes.size() - sec.offset)
      std::abort();
    volatile uint8_t sink = 0;
    if (sec.size)
      sink = a.sectionData(sec)[sec.size - 1];
    (void)sink;
  }
  return 0;
}
