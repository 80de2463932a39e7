//===- Artifact.h - Reading and writing compiled model artifacts -*- C++ -*-===//
//
// A `.kc` artifact is one file: a fixed header, a section table, a JSON manifest and opaque
// sections (native code per target, schedules per entry point), each at a 64-byte aligned
// offset with its own checksum, and a checksum over the whole file. docs/artifact.md is the
// specification. The reader memory-maps the file and refuses anything truncated, corrupted, of
// another format version or internally inconsistent, with a message naming the file.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RT_ARTIFACT_ARTIFACT_H
#define KILN_RT_ARTIFACT_ARTIFACT_H

#include "kiln/rt/artifact/Manifest.h"
#include "kiln/rt/artifact/Status.h"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::rt {

/// The format version this build writes. Readers accept the same major version and any minor
/// version (minor versions only add manifest keys and section kinds, which readers skip).
constexpr uint16_t kArtifactVersionMajor = 1;
constexpr uint16_t kArtifactVersionMinor = 3;
/// Sections start at multiples of this many bytes, so they can be mapped and used in place.
constexpr uint64_t kArtifactAlignment = 64;
/// Longest section name in bytes (the table stores it NUL-terminated in 48 bytes).
constexpr size_t kMaxSectionNameLength = 47;

enum class SectionKind : uint32_t {
  Manifest = 1, ///< the JSON manifest; exactly one, named `manifest`
  Code = 2,     ///< a target's code (`code/cpu-x86_64`: a shared object; `code/vulkan-spirv`)
  Schedule = 3, ///< an entry point's dispatch schedule for a target (`schedule/<target>/<entry>`)
  Data = 4,     ///< any other opaque bytes
};
const char *sectionKindName(SectionKind kind);

struct SectionInfo {
  std::string name;
  SectionKind kind = SectionKind::Data;
  uint64_t offset = 0;
  uint64_t size = 0;
  uint64_t checksum = 0; ///< XXH3-64 of the section's bytes
};

/// A loaded, verified artifact. Move-only; section bytes stay valid while it lives.
class Artifact {
public:
  Artifact();
  ~Artifact();
  Artifact(Artifact &&) noexcept;
  Artifact &operator=(Artifact &&) noexcept;
  Artifact(const Artifact &) = delete;
  Artifact &operator=(const Artifact &) = delete;

  /// Memory-maps and verifies `path`.
  static Status open(const std::string &path, Artifact &out);
  /// Verifies bytes already in memory (copied). `name` stands for the file in messages.
  static Status fromBytes(const void *data, size_t size, std::string_view name, Artifact &out);

  const std::string &path() const;
  uint16_t versionMajor() const;
  uint16_t versionMinor() const;
  uint64_t fileSize() const;
  const Manifest &manifest() const;
  const std::vector<SectionInfo> &sections() const;
  const SectionInfo *findSection(std::string_view name) const;
  /// The bytes of a section of this artifact (64-byte aligned in the mapping).
  const uint8_t *sectionData(const SectionInfo &section) const;

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Builds an artifact: a manifest plus opaque sections. Used by the compiler (no exceptions).
class ArtifactWriter {
public:
  void setManifest(Manifest manifest) { manifest_ = std::move(manifest); }
  const Manifest &manifest() const { return manifest_; }
  /// Adds a section (bytes copied). Kind must not be Manifest: the writer adds that one itself.
  void addSection(std::string name, SectionKind kind, const void *data, size_t size);

  /// Lays the artifact out in memory. Fails if the manifest is invalid, a section name is
  /// empty, too long or repeated, or the manifest refers to a section that is missing.
  Status serialize(std::vector<uint8_t> &out) const;
  /// Serializes and writes atomically (temporary file in the same folder, fsync, rename).
  Status write(const std::string &path) const;

private:
  struct PendingSection {
    std::string name;
    SectionKind kind;
    std::vector<uint8_t> bytes;
  };
  Manifest manifest_;
  std::vector<PendingSection> sections_;
};

} // namespace kiln::rt

#endif // KILN_RT_ARTIFACT_ARTIFACT_H
