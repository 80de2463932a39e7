//===- Artifact.cpp - Reading and writing .kc artifacts -------------------===//
//
// Layout (docs/artifact.md): a 64-byte header, a table of 80-byte section entries, then the
// sections at 64-byte aligned offsets. The reader checks, in order: magic, version, flags, the
// declared file size against the real one (truncation), the whole-file checksum (corruption),
// the section table (bounds, alignment, overlaps, names), each section's checksum, and finally
// the manifest and its references to sections. Every failure names the file.
//
//===----------------------------------------------------------------------===//
#include "kiln/rt/artifact/Artifact.h"
#include "kiln/rt/artifact/FileIO.h"

#include "Checksum.h"
#include "Layout.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <set>

namespace kiln::rt {
using namespace detail;

const char *sectionKindName(SectionKind kind) {
  switch (kind) {
  case SectionKind::Manifest: return "manifest";
  case SectionKind::Code: return "code";
  case SectionKind::Schedule: return "schedule";
  case SectionKind::Data: return "data";
  }
  return "unknown";
}

namespace {
uint64_t alignUp(uint64_t v) {
  return (v + kArtifactAlignment - 1) / kArtifactAlignment * kArtifactAlignment;
}

bool validSectionName(std::string_view name) {
  if (name.empty() || name.size() > kMaxSectionNameLength)
    return false;
  for (char c : name) {
    bool okChar = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == '-' || c == '/' || c == ':';
    if (!okChar)
      return false;
  }
  return true;
}

/// Checks that every section the manifest names exists with the right kind.
Status checkReferences(const Manifest &m, const std::vector<SectionInfo> &sections,
                       const std::string &name) {
  auto find = [&](const std::string &s) -> const SectionInfo * {
    for (const SectionInfo &info : sections)
      if (info.name == s)
        return &info;
    return nullptr;
  };
  for (const Target &t : m.targets) {
    const SectionInfo *s = find(t.codeSection);
    if (!s)
      return Status::invalid(name + ": target \"" + t.name + "\" names code section \"" +
                             t.codeSection + "\", which the artifact does not contain");
    if (s->kind != SectionKind::Code)
      return Status::invalid(name + ": target \"" + t.name + "\" names section \"" +
                             t.codeSection + "\", which is not a code section");
  }
  for (const EntryPoint &e : m.entryPoints) {
    for (const auto &ts : e.schedules) {
      const SectionInfo *s = find(ts.second);
      if (!s)
        return Status::invalid(name + ": entry point \"" + e.name + "\" names schedule section \"" +
                               ts.second + "\", which the artifact does not contain");
      if (s->kind != SectionKind::Schedule)
        return Status::invalid(name + ": entry point \"" + e.name + "\" names section \"" +
                               ts.second + "\", which is not a schedule section");
    }
  }
  return Status::success();
}
} // namespace

//===----------------------------------------------------------------------===//
// Reader
//===----------------------------------------------------------------------===//

struct Artifact::Impl {
  std::string path;
  MappedFile map;
  std::vector<uint8_t> owned; // fromBytes; over-aligned by offsetting into it
  const uint8_t *base = nullptr;
  size_t size = 0;
  uint16_t major = 0, minor = 0;
  Manifest manifest;
  std::vector<SectionInfo> sections;

  Status parse();
};

Status Artifact::Impl::parse() {
  const std::string &name = path;
  const uint8_t *p = base;
  if (size == 0)
    return Status::invalid(name + ": empty file, not a Kiln artifact");
  if (size < sizeof(kMagic)) {
    if (size > 0 && std::memcmp(p, kMagic, size) == 0)
      return Status::invalid(name + ": truncated Kiln artifact: " + std::to_string(size) +
                             " bytes, the header alone is " + std::to_string(kHeaderSize));
    return Status::invalid(name + ": not a Kiln artifact (" + std::to_string(size) +
                           " bytes, too short for the header)");
  }
  if (std::memcmp(p, kMagic, sizeof(kMagic)) != 0)
    return Status::invalid(name + ": not a Kiln artifact (wrong magic bytes)");
  if (size < kHeaderSize)
    return Status::invalid(name + ": truncated Kiln artifact: " + std::to_string(size) +
                           " bytes, the header alone is " + std::to_string(kHeaderSize));
  major = load16(p + kOffVersionMajor);
  minor = load16(p + kOffVersionMinor);
  std::string version = std::to_string(major) + "." + std::to_string(minor);
  if (major != kArtifactVersionMajor)
    return Status::unsupported(name + ": artifact format version " + version +
                               "; this kiln reads version " +
                               std::to_string(kArtifactVersionMajor) +
                               ".x (recompile the model with a matching kilnc)");
  uint64_t declared = load64(p + kOffFileSize);
  if (declared > size)
    return Status::invalid(name + ": truncated Kiln artifact: the header says " +
                           std::to_string(declared) + " bytes, the file has " +
                           std::to_string(size));
  if (declared < size)
    return Status::invalid(name + ": corrupted Kiln artifact: the file has " +
                           std::to_string(size) + " bytes, the header says " +
                           std::to_string(declared));
  uint64_t stored = load64(p + kOffFileChecksum);
  if (checksumExcluding(p, size, kOffFileChecksum) != stored)
    return Status::invalid(name + ": corrupted Kiln artifact: file checksum mismatch");

  uint32_t required = load32(p + kOffRequiredFlags);
  if (required != 0) {
    char flags[16];
    std::snprintf(flags, sizeof flags, "0x%x", required);
    return Status::unsupported(name + ": artifact requires features this kiln does not know "
                               "(required flags " + flags + ")");
  }
  uint32_t count = load32(p + kOffSectionCount);
  uint32_t headerSize = load32(p + kOffHeaderSize);
  if (count > kMaxSections)
    return Status::invalid(name + ": corrupted Kiln artifact: " + std::to_string(count) +
                           " sections");
  uint64_t tableEnd = kHeaderSize + uint64_t(count) * kSectionEntrySize;
  if (headerSize != tableEnd)
    return Status::invalid(name + ": corrupted Kiln artifact: header size " +
                           std::to_string(headerSize) + " does not match " +
                           std::to_string(count) + " sections");
  if (tableEnd > size)
    return Status::invalid(name + ": corrupted Kiln artifact: the section table ends past the "
                           "end of the file");

  std::set<std::string> names;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  sections.clear();
  for (uint32_t i = 0; i < count; ++i) {
    const uint8_t *e = p + kHeaderSize + size_t(i) * kSectionEntrySize;
    std::string where = name + ": section #" + std::to_string(i);
    const char *rawName = reinterpret_cast<const char *>(e + kEntryOffName);
    size_t len = strnlen(rawName, kEntryNameSize);
    if (len == kEntryNameSize)
      return Status::invalid(where + " has an unterminated name");
    for (size_t k = len; k < kEntryNameSize; ++k)
      if (rawName[k] != 0)
        return Status::invalid(where + " has bytes after its name's terminator");
    SectionInfo info;
    info.name.assign(rawName, len);
    if (!validSectionName(info.name))
      return Status::invalid(where + " has an invalid name");
    where = name + ": section \"" + info.name + "\"";
    if (!names.insert(info.name).second)
      return Status::invalid(where + " appears twice");
    uint32_t kind = load32(e + kEntryOffKind);
    // Kinds this reader does not know are kept as opaque sections: newer minor versions may
    // add them. Kind 0 is never valid.
    if (kind == 0)
      return Status::invalid(where + " has invalid kind 0");
    info.kind = static_cast<SectionKind>(kind);
    if (load32(e + kEntryOffFlags) != 0)
      return Status::unsupported(where + " has unknown flags");
    info.offset = load64(e + kEntryOffOffset);
    info.size = load64(e + kEntryOffSize);
    info.checksum = load64(e + kEntryOffChecksum);
    if (info.offset % kArtifactAlignment != 0)
      return Status::invalid(where + " starts at offset " + std::to_string(info.offset) +
                             ", not a multiple of " + std::to_string(kArtifactAlignment));
    if (info.offset < tableEnd || info.offset > size || info.size > size - info.offset)
      return Status::invalid(where + " (offset " + std::to_string(info.offset) + ", " +
                             std::to_string(info.size) + " bytes) lies outside the file's " +
                             std::to_string(tableEnd) + ".." + std::to_string(size) +
                             " data area");
    ranges.emplace_back(info.offset, info.offset + info.size);
    sections.push_back(std::move(info));
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i)
    if (ranges[i].first < ranges[i - 1].second)
      return Status::invalid(name + ": corrupted Kiln artifact: two sections overlap at offset " +
                             std::to_string(ranges[i].first));
  for (const SectionInfo &s : sections)
    if (checksum(p + s.offset, s.size) != s.checksum)
      return Status::invalid(name + ": corrupted Kiln artifact: section \"" + s.name +
                             "\" checksum mismatch");

  const SectionInfo *manifestSection = nullptr;
  for (const SectionInfo &s : sections) {
    if (s.kind != SectionKind::Manifest)
      continue;
    if (s.name != "manifest" || manifestSection)
      return Status::invalid(name + ": the artifact must have exactly one manifest section, "
                                    "named \"manifest\"");
    manifestSection = &s;
  }
  if (!manifestSection)
    return Status::invalid(name + ": the artifact has no manifest section");
  std::string_view json(reinterpret_cast<const char *>(p + manifestSection->offset),
                        manifestSection->size);
  Status s = parseManifest(json, manifest, name + ": manifest");
  if (!s.ok())
    return s;
  return checkReferences(manifest, sections, name);
}

Artifact::Artifact() : impl_(std::make_unique<Impl>()) {}
Artifact::~Artifact() = default;
Artifact::Artifact(Artifact &&) noexcept = default;
Artifact &Artifact::operator=(Artifact &&) noexcept = default;

Status Artifact::open(const std::string &path, Artifact &out) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  Status s = MappedFile::open(path, impl->map);
  if (!s.ok())
    return s;
  impl->base = impl->map.data();
  impl->size = impl->map.size();
  s = impl->parse();
  if (!s.ok())
    return s;
  out.impl_ = std::move(impl);
  return Status::success();
}

Status Artifact::fromBytes(const void *data, size_t size, std::string_view name, Artifact &out) {
  auto impl = std::make_unique<Impl>();
  impl->path = std::string(name);
  // Over-allocate so the copy starts on a 64-byte boundary, as a mapping would.
  impl->owned.resize(size + kArtifactAlignment);
  uintptr_t addr = reinterpret_cast<uintptr_t>(impl->owned.data());
  size_t pad = (kArtifactAlignment - addr % kArtifactAlignment) % kArtifactAlignment;
  uint8_t *dst = impl->owned.data() + pad;
  if (size)
    std::memcpy(dst, data, size);
  impl->base = dst;
  impl->size = size;
  Status s = impl->parse();
  if (!s.ok())
    return s;
  out.impl_ = std::move(impl);
  return Status::success();
}

const std::string &Artifact::path() const { return impl_->path; }
uint16_t Artifact::versionMajor() const { return impl_->major; }
uint16_t Artifact::versionMinor() const { return impl_->minor; }
uint64_t Artifact::fileSize() const { return impl_->size; }
const Manifest &Artifact::manifest() const { return impl_->manifest; }
const std::vector<SectionInfo> &Artifact::sections() const { return impl_->sections; }

const SectionInfo *Artifact::findSection(std::string_view name) const {
  for (const SectionInfo &s : impl_->sections)
    if (s.name == name)
      return &s;
  return nullptr;
}

const uint8_t *Artifact::sectionData(const SectionInfo &section) const {
  return impl_->base + section.offset;
}

//===----------------------------------------------------------------------===//
// Writer
//===----------------------------------------------------------------------===//

void ArtifactWriter::addSection(std::string name, SectionKind kind, const void *data,
                                size_t size) {
  const auto *p = static_cast<const uint8_t *>(data);
  sections_.push_back(PendingSection{std::move(name), kind, std::vector<uint8_t>(p, p + size)});
}

Status ArtifactWriter::serialize(std::vector<uint8_t> &out) const {
  std::string json;
  Status s = serializeManifest(manifest_, json);
  if (!s.ok())
    return s;

  std::vector<SectionInfo> infos;
  std::vector<const uint8_t *> payloads;
  infos.push_back(SectionInfo{"manifest", SectionKind::Manifest, 0, json.size(), 0});
  payloads.push_back(reinterpret_cast<const uint8_t *>(json.data()));
  std::set<std::string> names{"manifest"};
  for (const PendingSection &p : sections_) {
    if (!validSectionName(p.name))
      return Status::invalid("artifact: section name \"" + p.name +
                             "\" is empty, longer than 47 bytes or has a character outside "
                             "[A-Za-z0-9_.:/-]");
    if (p.kind == SectionKind::Manifest)
      return Status::invalid("artifact: section \"" + p.name +
                             "\": the writer adds the manifest section itself");
    if (!names.insert(p.name).second)
      return Status::invalid("artifact: section \"" + p.name + "\" added twice");
    infos.push_back(SectionInfo{p.name, p.kind, 0, p.bytes.size(), 0});
    payloads.push_back(p.bytes.data());
  }
  s = checkReferences(manifest_, infos, "artifact");
  if (!s.ok())
    return s;
  if (infos.size() > kMaxSections)
    return Status::invalid("artifact: too many sections");

  uint64_t tableEnd = kHeaderSize + infos.size() * kSectionEntrySize;
  uint64_t offset = alignUp(tableEnd);
  for (SectionInfo &info : infos) {
    info.offset = offset;
    offset = alignUp(offset + info.size);
  }
  uint64_t fileSize = infos.back().offset + infos.back().size;
  out.assign(fileSize, 0);
  uint8_t *p = out.data();
  std::memcpy(p + kOffMagic, kMagic, sizeof(kMagic));
  store16(p + kOffVersionMajor, kArtifactVersionMajor);
  store16(p + kOffVersionMinor, kArtifactVersionMinor);
  store32(p + kOffHeaderSize, static_cast<uint32_t>(tableEnd));
  store64(p + kOffFileSize, fileSize);
  store32(p + kOffSectionCount, static_cast<uint32_t>(infos.size()));
  for (size_t i = 0; i < infos.size(); ++i) {
    SectionInfo &info = infos[i];
    if (info.size)
      std::memcpy(p + info.offset, payloads[i], info.size);
    info.checksum = checksum(p + info.offset, info.size);
    uint8_t *e = p + kHeaderSize + i * kSectionEntrySize;
    std::memcpy(e + kEntryOffName, info.name.data(), info.name.size());
    store32(e + kEntryOffKind, static_cast<uint32_t>(info.kind));
    store64(e + kEntryOffOffset, info.offset);
    store64(e + kEntryOffSize, info.size);
    store64(e + kEntryOffChecksum, info.checksum);
  }
  store64(p + kOffFileChecksum, checksumExcluding(p, fileSize, kOffFileChecksum));
  return Status::success();
}

Status ArtifactWriter::write(const std::string &path) const {
  std::vector<uint8_t> bytes;
  Status s = serialize(bytes);
  if (!s.ok())
    return Status::invalid(path + ": " + s.message());
  AtomicFileWriter file;
  if (!(s = file.open(path)).ok())
    return s;
  if (!(s = file.write(bytes.data(), bytes.size())).ok())
    return s;
  return file.commit();
}

} // namespace kiln::rt
