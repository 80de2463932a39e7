//===- ArtifactTest.cpp - Artifact layout, round trip and refusals --------===//
#include "TestArtifacts.h"

#include "kiln/rt/artifact/Artifact.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <random>
#include <unistd.h>

using namespace kiln::rt;
using namespace kiln::test;

namespace {
Status load(const std::vector<uint8_t> &bytes, Artifact &out) {
  return Artifact::fromBytes(bytes.data(), bytes.size(), "model.kc", out);
}

std::string tempDir() {
  char tmpl[] = "/tmp/kiln-artifact-test-XXXXXX";
  const char *d = mkdtemp(tmpl);
  return d ? d : "/tmp";
}

bool contains(const std::string &haystack, const std::string &needle) {
  return haystack.find(needle) != std::string::npos;
}
} // namespace

TEST(Artifact, RoundTrip) {
  std::vector<uint8_t> bytes = sampleArtifactBytes();
  ASSERT_FALSE(bytes.empty());
  Artifact a;
  Status s = load(bytes, a);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(a.versionMajor(), kArtifactVersionMajor);
  EXPECT_EQ(a.fileSize(), bytes.size());

  Manifest want = sampleManifest();
  const Manifest &got = a.manifest();
  EXPECT_EQ(got.model, want.model);
  ASSERT_EQ(got.config.size(), want.config.size());
  for (size_t i = 0; i < want.config.size(); ++i) {
    EXPECT_EQ(got.config[i].first, want.config[i].first);
    EXPECT_EQ(got.config[i].second.toString(), want.config[i].second.toString());
  }
  ASSERT_EQ(got.entryPoints.size(), 2u);
  EXPECT_EQ(got.entryPoints[0].outputs[0].shape, want.entryPoints[0].outputs[0].shape);
  EXPECT_EQ(got.entryPoints[1].inputs[1].dtype, DType::I64);
  EXPECT_TRUE(got.entryPoints[1].inputs[1].shape.empty());
  EXPECT_EQ(got.entryPoints[0].schedules, want.entryPoints[0].schedules);
  EXPECT_EQ(got.hfPrefixes, want.hfPrefixes);
  EXPECT_EQ(got.hfIgnore, want.hfIgnore);
  ASSERT_EQ(got.parameters.size(), want.parameters.size());
  for (size_t i = 0; i < want.parameters.size(); ++i) {
    const Parameter &g = got.parameters[i], &w = want.parameters[i];
    EXPECT_EQ(g.name, w.name);
    EXPECT_EQ(g.shape, w.shape);
    EXPECT_EQ(g.dtype, w.dtype);
    EXPECT_EQ(g.init, w.init);
    EXPECT_DOUBLE_EQ(g.initStd, w.initStd);
    EXPECT_EQ(g.hfName, w.hfName);
    EXPECT_EQ(g.transpose, w.transpose);
    EXPECT_EQ(g.hasSlice, w.hasSlice);
    EXPECT_EQ(g.slice.index, w.slice.index);
    EXPECT_EQ(g.slice.count, w.slice.count);
    EXPECT_EQ(g.slice.axis, w.slice.axis);
  }

  const SectionInfo *code = a.findSection("code/cpu-x86_64");
  ASSERT_NE(code, nullptr);
  EXPECT_EQ(code->kind, SectionKind::Code);
  std::string codeBytes(reinterpret_cast<const char *>(a.sectionData(*code)), code->size);
  EXPECT_EQ(codeBytes, std::string("\x7f" "ELF fake shared object"));
  for (const SectionInfo &s : a.sections()) {
    EXPECT_EQ(s.offset % kArtifactAlignment, 0u) << s.name;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(a.sectionData(s)) % kArtifactAlignment, 0u) << s.name;
  }
  // Serializing is deterministic.
  EXPECT_EQ(sampleArtifactBytes(), bytes);
}

TEST(Artifact, WriteAndOpenFile) {
  std::string dir = tempDir();
  std::string path = dir + "/model.kc";
  ArtifactWriter w;
  w.setManifest(sampleManifest());
  w.addSection("code/cpu-x86_64", SectionKind::Code, "abc", 3);
  w.addSection("schedule/cpu-x86_64/forward", SectionKind::Schedule, "f", 1);
  w.addSection("schedule/cpu-x86_64/decode", SectionKind::Schedule, "d", 1);
  ASSERT_TRUE(w.write(path).ok());
  ASSERT_TRUE(w.write(path).ok()); // replaces
  Artifact a;
  Status s = Artifact::open(path, a);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(a.path(), path);
  EXPECT_EQ(a.manifest().parameters.size(), sampleManifest().parameters.size());
  // No temporary files are left behind.
  DIR *d = opendir(dir.c_str());
  int entries = 0;
  while (dirent *e = readdir(d))
    if (e->d_name[0] != '.' || (std::strcmp(e->d_name, ".") && std::strcmp(e->d_name, "..")))
      ++entries;
  closedir(d);
  EXPECT_EQ(entries, 1);
  std::remove(path.c_str());
  rmdir(dir.c_str());
}

TEST(Artifact, OpenErrorsNameTheFile) {
  Artifact a;
  Status s = Artifact::open("/nonexistent/dir/model.kc", a);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(contains(s.message(), "/nonexistent/dir/model.kc")) << s.message();
  ArtifactWriter w;
  w.setManifest(sampleManifest());
  s = w.write("/nonexistent/dir/model.kc");
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(contains(s.message(), "/nonexistent/dir/model.kc")) << s.message();
}

TEST(Artifact, EveryTruncationIsRefused) {
  std::vector<uint8_t> bytes = sampleArtifactBytes();
  for (size_t len = 0; len < bytes.size(); ++len) {
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + len);
    Artifact a;
    Status s = load(cut, a);
    ASSERT_FALSE(s.ok()) << "length " << len;
    EXPECT_EQ(s.message().rfind("model.kc: ", 0), 0u) << s.message();
    if (len == 0)
      EXPECT_TRUE(contains(s.message(), "empty")) << s.message();
    else
      EXPECT_TRUE(contains(s.message(), "truncated")) << "length " << len << ": " << s.message();
  }
}

TEST(Artifact, TrailingBytesAreRefused) {
  std::vector<uint8_t> bytes = sampleArtifactBytes();
  bytes.push_back(0);
  Artifact a;
  Status s = load(bytes, a);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(contains(s.message(), "corrupted")) << s.message();
}

TEST(Artifact, RandomBitFlipsAreRefused) {
  std::vector<uint8_t> bytes = sampleArtifactBytes();
  std::mt19937_64 rng(1234);
  for (int trial = 0; trial < 3000; ++trial) {
    std::vector<uint8_t> bad = bytes;
    size_t at = rng() % bad.size();
    bad[at] ^= uint8_t(1u << (rng() % 8));
    if (trial % 3 == 0) { // sometimes several flips
      size_t at2 = rng() % bad.size();
      bad[at2] ^= uint8_t(1u << (rng() % 8));
      if (bad == bytes)
        continue;
    }
    Artifact a;
    Status s = load(bad, a);
    ASSERT_FALSE(s.ok()) << "flip at byte " << at;
    EXPECT_EQ(s.message().rfind("model.kc: ", 0), 0u) << s.message();
  }
}

TEST(Artifact, EveryByteFlipIsRefused) {
  std::vector<uint8_t> bytes = sampleArtifactBytes();
  for (size_t at = 0; at < bytes.size(); ++at) {
    std::vector<uint8_t> bad = bytes;
    bad[at] ^= 0x01;
    Artifact a;
    ASSERT_FALSE(load(bad, a).ok()) << "flip at byte " << at;
  }
}

TEST(Artifact, WrongMagicIsRefused) {
  std::vector<uint8_t> bytes = sampleArtifactBytes();
  bytes[1] = 'X';
  Artifact a;
  Status s = load(bytes, a);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(contains(s.message(), "not a Kiln artifact")) << s.message();
  std::string text = "{\"model\": \"gpt2\"}\n";
  s = Artifact::fromBytes(text.data(), text.size(), "model.kc", a);
  EXPECT_TRUE(contains(s.message(), "not a Kiln artifact")) << s.message();
}

TEST(Artifact, WrongVersionIsRefused) {
  RawOptions o;
  o.major = 2;
  std::vector<uint8_t> bytes = buildRawArtifact({{"manifest", 1, "{\"model\": \"m\"}"}}, o);
  Artifact a;
  Status s = load(bytes, a);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Status::Code::Unsupported);
  EXPECT_TRUE(contains(s.message(), "version 2.0")) << s.message();
  o.major = 0;
  s = load(buildRawArtifact({{"manifest", 1, "{\"model\": \"m\"}"}}, o), a);
  EXPECT_TRUE(contains(s.message(), "version 0.0")) << s.message();
}

TEST(Artifact, NewerMinorVersionIsAccepted) {
  RawOptions o;
  o.minor = 7;
  Artifact a;
  Status s = load(buildRawArtifact({{"manifest", 1, "{\"model\": \"m\", \"new_key\": 1}"}}, o), a);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(a.versionMinor(), 7);
}

TEST(Artifact, UnknownRequiredFlagsAreRefused) {
  RawOptions o;
  o.requiredFlags = 4;
  Artifact a;
  Status s = load(buildRawArtifact({{"manifest", 1, "{\"model\": \"m\"}"}}, o), a);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(contains(s.message(), "flags")) << s.message();
}

TEST(Artifact, RawBuilderAgreesWithWriter) {
  // The independent builder follows docs/artifact.md; the reader accepts what it makes.
  Artifact a;
  Status s = load(buildRawArtifact({{"manifest", 1, "{\"model\": \"m\"}"},
                                    {"blob", 4, std::string(100, 'x')}}),
                  a);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(a.sections().size(), 2u);
  // Section kinds added by newer minor versions are kept as opaque sections.
  s = load(buildRawArtifact({{"manifest", 1, "{\"model\": \"m\"}"}, {"future", 99, "x"}}), a);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(static_cast<uint32_t>(a.findSection("future")->kind), 99u);
}

struct TableLie {
  const char *what;
  std::vector<RawSection> sections;
  const char *expect;
};

TEST(Artifact, SectionTableLiesAreRefused) {
  const std::string m = "{\"model\": \"m\"}";
  RawSection outOfRange{"blob", 4, "0123456789"};
  outOfRange.overrideOffset = true;
  outOfRange.offset = 1 << 20;
  RawSection tooLong{"blob", 4, "0123456789"};
  tooLong.overrideSize = true;
  tooLong.size = 1 << 20;
  RawSection hugeSize{"blob", 4, "0123456789"};
  hugeSize.overrideSize = true;
  hugeSize.size = ~0ull - 10;
  RawSection misaligned{"blob", 4, "0123456789"};
  misaligned.overrideOffset = true;
  misaligned.offset = 65;
  RawSection intoTable{"blob", 4, "0123456789"};
  intoTable.overrideOffset = true;
  intoTable.offset = 64;
  RawSection overlap{"blob2", 4, "abc"};
  overlap.overrideOffset = true;
  overlap.offset = 256; // where the manifest is
  std::vector<TableLie> lies = {
      {"offset past the end", {{"manifest", 1, m}, outOfRange}, "outside"},
      {"size past the end", {{"manifest", 1, m}, tooLong}, "outside"},
      {"size that overflows", {{"manifest", 1, m}, hugeSize}, "outside"},
      {"misaligned offset", {{"manifest", 1, m}, misaligned}, "multiple of 64"},
      {"offset inside the table", {{"manifest", 1, m}, intoTable}, "outside"},
      {"overlapping sections", {{"manifest", 1, m}, overlap}, "overlap"},
      {"no manifest", {{"blob", 4, "x"}}, "no manifest"},
      {"two manifests", {{"manifest", 1, m}, {"manifest2", 1, m}}, "exactly one manifest"},
      {"duplicate section names", {{"manifest", 1, m}, {"blob", 4, "a"}, {"blob", 4, "b"}},
       "twice"},
      {"section kind 0", {{"manifest", 1, m}, {"blob", 0, "a"}}, "invalid kind"},
      {"empty section name", {{"manifest", 1, m}, {"", 4, "a"}}, "invalid name"},
      {"bad characters in a name", {{"manifest", 1, m}, {"a b", 4, "a"}}, "invalid name"},
      {"manifest that is not JSON", {{"manifest", 1, "{model"}}, "invalid JSON"},
      {"manifest that is not an object", {{"manifest", 1, "[1]"}}, "must be an object"},
  };
  for (const TableLie &lie : lies) {
    std::vector<uint8_t> bytes = buildRawArtifact(lie.sections);
    Artifact a;
    Status s = load(bytes, a);
    ASSERT_FALSE(s.ok()) << lie.what;
    EXPECT_TRUE(contains(s.message(), lie.expect)) << lie.what << ": " << s.message();
    EXPECT_EQ(s.message().rfind("model.kc", 0), 0u) << s.message();
  }
}

TEST(Artifact, MissingReferencedSectionsAreRefused) {
  Manifest m = sampleManifest();
  ArtifactWriter w;
  w.setManifest(m);
  std::vector<uint8_t> out;
  Status s = w.serialize(out);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(contains(s.message(), "code/cpu-x86_64")) << s.message();
  // A section named by a target must be a code section.
  w.addSection("code/cpu-x86_64", SectionKind::Data, "x", 1);
  s = w.serialize(out);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(contains(s.message(), "not a code section")) << s.message();
}

TEST(Artifact, WriterRefusesBadSections) {
  ArtifactWriter w;
  Manifest m;
  m.model = "m";
  w.setManifest(m);
  w.addSection(std::string(48, 'a'), SectionKind::Data, "x", 1);
  std::vector<uint8_t> out;
  EXPECT_FALSE(w.serialize(out).ok());
  ArtifactWriter w2;
  w2.setManifest(m);
  w2.addSection("x", SectionKind::Data, "x", 1);
  w2.addSection("x", SectionKind::Data, "y", 1);
  EXPECT_FALSE(w2.serialize(out).ok());
  ArtifactWriter w3;
  w3.setManifest(m);
  w3.addSection("manifest", SectionKind::Manifest, "{}", 2);
  EXPECT_FALSE(w3.serialize(out).ok());
}
