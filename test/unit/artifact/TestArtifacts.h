//===- TestArtifacts.h - Sample manifests and a raw artifact builder -*- C++ -*-===//
#ifndef KILN_TEST_UNIT_ARTIFACT_TESTARTIFACTS_H
#define KILN_TEST_UNIT_ARTIFACT_TESTARTIFACTS_H

#include "kiln/rt/artifact/Artifact.h"

#include <cstdint>
#include <string>
#include <vector>

namespace kiln::test {

/// A small GPT-2-like manifest using every feature: config of each kind, a target, two entry
/// points with symbolic dims and schedules, parameters with each init kind, transposes and a
/// fused slice.
rt::Manifest sampleManifest();

/// sampleManifest() with a code section and schedules, serialized by ArtifactWriter.
std::vector<uint8_t> sampleArtifactBytes();

/// Builds artifact bytes straight from docs/artifact.md, independently of ArtifactWriter, so
/// tests can produce files that lie (bad offsets, raw manifest text) with valid checksums.
struct RawSection {
  std::string name;
  uint32_t kind;
  std::string bytes;
  // Overrides applied to the table entry after layout (when set).
  bool overrideOffset = false;
  uint64_t offset = 0;
  bool overrideSize = false;
  uint64_t size = 0;
};
struct RawOptions {
  uint16_t major = 1, minor = 0;
  uint32_t requiredFlags = 0;
};
std::vector<uint8_t> buildRawArtifact(const std::vector<RawSection> &sections,
                                      const RawOptions &options = {});

/// Recomputes the whole-file checksum after a test edited the bytes.
void fixFileChecksum(std::vector<uint8_t> &bytes);

/// A raw artifact whose manifest section is `json` (plus the sample's code/schedule sections).
std::vector<uint8_t> artifactWithManifestText(const std::string &json);

} // namespace kiln::test

#endif
