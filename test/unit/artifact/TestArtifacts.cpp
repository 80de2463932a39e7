//===- TestArtifacts.cpp - Sample manifests and a raw artifact builder ----===//
#include "TestArtifacts.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <cstring>

namespace kiln::test {
using namespace rt;

Manifest sampleManifest() {
  Manifest m;
  m.model = "gpt2";
  m.config = {{"vocab_size", ConfigValue::ofInt(97)},
              {"n_embd", ConfigValue::ofInt(8)},
              {"layer_norm_epsilon", ConfigValue::ofFloat(1e-5)},
              {"tie_word_embeddings", ConfigValue::ofBool(true)},
              {"activation_function", ConfigValue::ofString("gelu_new")}};
  m.targets = {{"cpu-x86_64", "code/cpu-x86_64"}};
  EntryPoint fwd;
  fwd.name = "forward";
  fwd.inputs = {{"ids", DType::I32, {Dim::symbolic("batch"), Dim::symbolic("seq")}}};
  fwd.outputs = {{"logits", DType::F32, {Dim::symbolic("batch"), Dim::symbolic("seq"), Dim::fixed(97)}}};
  fwd.schedules = {{"cpu-x86_64", "schedule/cpu-x86_64/forward"}};
  EntryPoint dec;
  dec.name = "decode";
  dec.inputs = {{"ids", DType::I32, {Dim::symbolic("batch"), Dim::fixed(1)}},
                {"pos", DType::I64, {}}};
  dec.outputs = {{"logits", DType::F32, {Dim::symbolic("batch"), Dim::fixed(1), Dim::fixed(97)}}};
  dec.schedules = {{"cpu-x86_64", "schedule/cpu-x86_64/decode"}};
  m.entryPoints = {fwd, dec};
  m.hfPrefixes = {"transformer."};
  m.hfIgnore = {"lm_head.weight", "h.*.attn.bias"};

  auto param = [](std::string name, std::vector<int64_t> shape, InitKind init, double std,
                  std::string hf) {
    Parameter p;
    p.name = std::move(name);
    p.shape = std::move(shape);
    p.init = init;
    p.initStd = std;
    p.hfName = std::move(hf);
    return p;
  };
  m.parameters.push_back(param("wte.weight", {97, 8}, InitKind::Normal, 0.02, "wte.weight"));
  m.parameters.push_back(param("h.0.ln_1.weight", {8}, InitKind::Ones, 0, "h.0.ln_1.weight"));
  m.parameters.push_back(param("h.0.ln_1.bias", {8}, InitKind::Zeros, 0, "h.0.ln_1.bias"));
  const char *qkv[] = {"q", "k", "v"};
  for (int i = 0; i < 3; ++i) {
    Parameter p = param(std::string("h.0.attn.") + qkv[i] + ".weight", {8, 8}, InitKind::Normal,
                        0.02, "h.0.attn.c_attn.weight");
    p.transpose = true;
    p.hasSlice = true;
    p.slice = {i, 3, 1};
    m.parameters.push_back(p);
  }
  Parameter proj = param("h.0.attn.proj.weight", {8, 8}, InitKind::Normal, 0.01,
                         "h.0.attn.c_proj.weight");
  proj.transpose = true;
  m.parameters.push_back(proj);
  return m;
}

std::vector<uint8_t> sampleArtifactBytes() {
  ArtifactWriter w;
  w.setManifest(sampleManifest());
  std::string code = "\x7f" "ELF fake shared object";
  w.addSection("code/cpu-x86_64", SectionKind::Code, code.data(), code.size());
  std::string sf = "forward schedule", sd = "decode schedule!";
  w.addSection("schedule/cpu-x86_64/forward", SectionKind::Schedule, sf.data(), sf.size());
  w.addSection("schedule/cpu-x86_64/decode", SectionKind::Schedule, sd.data(), sd.size());
  std::vector<uint8_t> out;
  Status s = w.serialize(out);
  if (!s.ok())
    out.clear();
  return out;
}

namespace {
void put(std::vector<uint8_t> &b, size_t off, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i)
    b[off + i] = uint8_t(v >> (8 * i));
}
} // namespace

void fixFileChecksum(std::vector<uint8_t> &bytes) {
  put(bytes, 40, 0, 8);
  put(bytes, 40, XXH3_64bits(bytes.data(), bytes.size()), 8);
}

std::vector<uint8_t> buildRawArtifact(const std::vector<RawSection> &sections,
                                      const RawOptions &o) {
  size_t tableEnd = 64 + 80 * sections.size();
  auto align = [](uint64_t v) { return (v + 63) / 64 * 64; };
  std::vector<uint64_t> offsets;
  uint64_t off = align(tableEnd), end = tableEnd;
  for (const RawSection &s : sections) {
    offsets.push_back(off);
    end = off + s.bytes.size();
    off = align(end);
  }
  std::vector<uint8_t> b(end, 0);
  const uint8_t magic[8] = {0x89, 'K', 'I', 'L', 'N', '\r', '\n', 0x1a};
  std::memcpy(b.data(), magic, 8);
  put(b, 8, o.major, 2);
  put(b, 10, o.minor, 2);
  put(b, 12, tableEnd, 4);
  put(b, 16, o.requiredFlags, 4);
  put(b, 24, b.size(), 8);
  put(b, 32, sections.size(), 4);
  for (size_t i = 0; i < sections.size(); ++i) {
    const RawSection &s = sections[i];
    size_t e = 64 + 80 * i;
    std::memcpy(&b[e], s.name.data(), std::min<size_t>(s.name.size(), 48));
    put(b, e + 48, s.kind, 4);
    std::memcpy(&b[offsets[i]], s.bytes.data(), s.bytes.size());
    put(b, e + 56, s.overrideOffset ? s.offset : offsets[i], 8);
    put(b, e + 64, s.overrideSize ? s.size : s.bytes.size(), 8);
    put(b, e + 72, XXH3_64bits(s.bytes.data(), s.bytes.size()), 8);
  }
  fixFileChecksum(b);
  return b;
}

std::vector<uint8_t> artifactWithManifestText(const std::string &json) {
  return buildRawArtifact({{"manifest", 1, json},
                           {"code/cpu-x86_64", 2, "code"},
                           {"schedule/cpu-x86_64/forward", 3, "f"},
                           {"schedule/cpu-x86_64/decode", 3, "d"}});
}

} // namespace kiln::test
