//===- ManifestTest.cpp - Manifests that are well-formed but lie ----------===//
#include "TestArtifacts.h"

#include "kiln/rt/artifact/Artifact.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <functional>

using namespace kiln::rt;
using namespace kiln::test;
using Json = nlohmann::ordered_json;

namespace {
Json sampleJson() {
  std::string text;
  EXPECT_TRUE(serializeManifest(sampleManifest(), text).ok());
  return Json::parse(text);
}

/// Loads an artifact whose manifest is the sample edited by `edit`.
Status loadEdited(const std::function<void(Json &)> &edit) {
  Json j = sampleJson();
  edit(j);
  std::vector<uint8_t> bytes = artifactWithManifestText(j.dump());
  Artifact a;
  return Artifact::fromBytes(bytes.data(), bytes.size(), "model.kc", a);
}

Json &param(Json &j, const std::string &name) {
  for (Json &p : j["parameters"])
    if (p["name"] == name)
      return p;
  throw std::runtime_error("no parameter " + name);
}
} // namespace

TEST(Manifest, SampleLoads) {
  Status s = loadEdited([](Json &) {});
  EXPECT_TRUE(s.ok()) << s.message();
}

struct Lie {
  const char *what;
  std::function<void(Json &)> edit;
  const char *expect;
};

TEST(Manifest, LiesAreRefused) {
  std::vector<Lie> lies = {
      {"negative parameter dim", [](Json &j) { param(j, "wte.weight")["shape"][0] = -97; },
       "negative dimension -97"},
      {"negative signature dim",
       [](Json &j) { j["entry_points"][0]["outputs"][0]["shape"][2] = -1; },
       "negative dimension -1"},
      {"fractional dim", [](Json &j) { param(j, "wte.weight")["shape"][0] = 2.5; },
       "must be an integer"},
      {"huge dim", [](Json &j) { param(j, "wte.weight")["shape"] = {1ull << 40, 1ull << 40}; },
       "larger than 2^48"},
      {"dim beyond int64",
       [](Json &j) { param(j, "wte.weight")["shape"][0] = 18446744073709551615ull; },
       "too large"},
      {"duplicate parameter names",
       [](Json &j) { param(j, "h.0.ln_1.bias")["name"] = "h.0.ln_1.weight"; },
       "\"h.0.ln_1.weight\" appears twice"},
      {"unknown parameter dtype", [](Json &j) { param(j, "wte.weight")["dtype"] = "f33"; },
       "unknown dtype \"f33\""},
      {"unknown signature dtype",
       [](Json &j) { j["entry_points"][0]["inputs"][0]["dtype"] = "int"; },
       "unknown dtype \"int\""},
      {"integer parameter", [](Json &j) { param(j, "wte.weight")["dtype"] = "i32"; },
       "parameters are f32"},
      {"unknown init", [](Json &j) { param(j, "wte.weight")["init"] = "xavier"; },
       "unknown init \"xavier\""},
      {"negative std", [](Json &j) { param(j, "wte.weight")["std"] = -1.0; }, "init std"},
      {"missing std", [](Json &j) { param(j, "wte.weight").erase("std"); }, "no \"std\""},
      {"slice index out of range",
       [](Json &j) { param(j, "h.0.attn.v.weight")["slice"] = {3, 3, 1}; }, "slice index 3"},
      {"slice axis out of range",
       [](Json &j) {
         for (const char *n : {"h.0.attn.q.weight", "h.0.attn.k.weight", "h.0.attn.v.weight"})
           param(j, n)["slice"][2] = 2;
       },
       "slice axis 2"},
      {"zero slice count",
       [](Json &j) { param(j, "h.0.attn.q.weight")["slice"] = {0, 0, 1}; }, "slice count 0"},
      {"same slice twice",
       [](Json &j) { param(j, "h.0.attn.k.weight")["slice"][0] = 0; }, "same slice"},
      {"hf_name shared without slices",
       [](Json &j) { param(j, "h.0.ln_1.bias")["hf_name"] = "wte.weight"; },
       "both map to hf_name"},
      {"transpose of a vector",
       [](Json &j) { param(j, "h.0.ln_1.bias")["transpose"] = true; }, "transposed but has rank 1"},
      {"slice without hf_name",
       [](Json &j) {
         param(j, "h.0.ln_1.bias")["slice"] = {0, 1, 0};
         param(j, "h.0.ln_1.bias").erase("hf_name");
       },
       "no hf_name"},
      {"quantization", [](Json &j) { param(j, "wte.weight")["quantization"] = "int4"; },
       "unsupported quantization"},
      {"int8_row on an f32 matrix",
       [](Json &j) { param(j, "wte.weight")["quantization"] = "int8_row"; },
       "is int8_row quantized but is f32"},
      {"i8 parameter without quantization", [](Json &j) { param(j, "wte.weight")["dtype"] = "i8"; },
       "parameters are f32"},
      {"int8_row whose scale does not exist",
       [](Json &j) {
         param(j, "wte.weight")["dtype"] = "i8";
         param(j, "wte.weight")["quantization"] = "int8_row";
         param(j, "wte.weight")["scale"] = "nope";
       },
       "names scale \"nope\""},
      {"scale_of a parameter that is not quantized",
       [](Json &j) { param(j, "h.0.ln_1.bias")["scale_of"] = "wte.weight"; }, "is scale_of"},
      {"duplicate entry point", [](Json &j) { j["entry_points"][1]["name"] = "forward"; },
       "entry point \"forward\" appears twice"},
      {"duplicate input", [](Json &j) { j["entry_points"][1]["inputs"][1]["name"] = "ids"; },
       "two inputs named \"ids\""},
      {"symbolic dim that is not an identifier",
       [](Json &j) { j["entry_points"][0]["inputs"][0]["shape"][0] = "2 batch"; },
       "not an identifier"},
      {"schedule for an undeclared target",
       [](Json &j) { j["entry_points"][0]["schedules"] = {{"vulkan-spirv", "schedule/x"}}; },
       "undeclared target \"vulkan-spirv\""},
      {"schedule section that does not exist",
       [](Json &j) { j["entry_points"][0]["schedules"]["cpu-x86_64"] = "schedule/nope"; },
       "schedule/nope"},
      {"code section that does not exist",
       [](Json &j) { j["targets"][0]["code_section"] = "code/nope"; }, "code/nope"},
      {"code section of the wrong kind",
       [](Json &j) { j["targets"][0]["code_section"] = "schedule/cpu-x86_64/forward"; },
       "not a code section"},
      {"duplicate target",
       [](Json &j) { j["targets"].push_back(j["targets"][0]); }, "appears twice"},
      {"missing model", [](Json &j) { j.erase("model"); }, "no \"model\""},
      {"model of the wrong type", [](Json &j) { j["model"] = 3; }, "must be a string"},
      {"parameters not an array", [](Json &j) { j["parameters"] = Json::object(); },
       "must be an array"},
      {"config value that is an array", [](Json &j) { j["config"]["x"] = {1, 2}; },
       "config value \"x\""},
      {"empty parameter name", [](Json &j) { param(j, "wte.weight")["name"] = ""; },
       "empty name"},
      {"parameter name with a space", [](Json &j) { param(j, "wte.weight")["name"] = "a b"; },
       "outside [A-Za-z0-9_.:/-]"},
      {"output name with a slash path",
       [](Json &j) { j["entry_points"][0]["outputs"][0]["name"] = "lo gits"; }, "outside"},
  };
  for (const Lie &lie : lies) {
    Status s = loadEdited(lie.edit);
    ASSERT_FALSE(s.ok()) << lie.what;
    EXPECT_NE(s.message().find(lie.expect), std::string::npos)
        << lie.what << ": " << s.message();
    EXPECT_EQ(s.message().rfind("model.kc", 0), 0u) << s.message();
  }
}

TEST(Manifest, DuplicateJsonKeysAreRefused) {
  std::string text;
  ASSERT_TRUE(serializeManifest(sampleManifest(), text).ok());
  // Repeat the model key: a reader that kept either value would be guessing.
  std::string dup = "{\"model\": \"other\"," + text.substr(1);
  std::vector<uint8_t> bytes = artifactWithManifestText(dup);
  Artifact a;
  Status s = Artifact::fromBytes(bytes.data(), bytes.size(), "model.kc", a);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("\"model\" appears twice"), std::string::npos) << s.message();
}

TEST(Manifest, DeepNestingIsRefused) {
  std::string deep = "{\"model\": \"m\", \"x\": " + std::string(10000, '[') +
                     std::string(10000, ']') + "}";
  Manifest m;
  Status s = parseManifest(deep, m);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("nested deeper"), std::string::npos) << s.message();
}

TEST(Manifest, UnknownKeysAreIgnored) {
  Status s = loadEdited([](Json &j) {
    j["added_in_a_later_minor_version"] = {{"a", 1}};
    param(j, "wte.weight")["future"] = true;
  });
  EXPECT_TRUE(s.ok()) << s.message();
}

TEST(Manifest, SerializeRefusesInvalid) {
  Manifest m = sampleManifest();
  m.parameters[0].shape[0] = -1;
  std::string out;
  EXPECT_FALSE(serializeManifest(m, out).ok());
}

TEST(Manifest, DTypeNames) {
  DType t;
  ASSERT_TRUE(parseDType("bf16", t));
  EXPECT_EQ(t, DType::BF16);
  ASSERT_TRUE(parseDType("BF16", t));
  EXPECT_EQ(dtypeSize(t), 2u);
  EXPECT_STREQ(dtypeSafetensorsName(DType::Bool), "BOOL");
  EXPECT_FALSE(parseDType("Bf16", t));
  EXPECT_FALSE(parseDType("", t));
}

// Entry-point state (format 1.1): read, written back, and refused when it lies.
TEST(Manifest, EntryPointState) {
  Json cache = {{"name", "cache_k"}, {"dtype", "f32"}, {"shape", {2, "batch", 16, 32}}};
  Manifest m;
  {
    Json j = sampleJson();
    j["entry_points"][0]["state"] = Json::array({cache});
    ASSERT_TRUE(parseManifest(j.dump(), m).ok());
  }
  ASSERT_EQ(m.entryPoints[0].state.size(), 1u);
  EXPECT_EQ(m.entryPoints[0].state[0].name, "cache_k");
  EXPECT_EQ(m.entryPoints[0].state[0].shape[1].symbol, "batch");
  EXPECT_EQ(m.entryPoints[0].state[0].shape[2].size, 16);
  std::string text;
  ASSERT_TRUE(serializeManifest(m, text).ok());
  Manifest back;
  ASSERT_TRUE(parseManifest(text, back).ok());
  ASSERT_EQ(back.entryPoints[0].state.size(), 1u);
  EXPECT_EQ(back.entryPoints[0].state[0].shape, m.entryPoints[0].state[0].shape);

  std::vector<Lie> lies = {
      {"state not an array", [](Json &j) { j["entry_points"][0]["state"] = 3; }, "state"},
      {"negative state dim",
       [&](Json &j) {
         Json c = cache;
         c["shape"][2] = -16;
         j["entry_points"][0]["state"] = Json::array({c});
       },
       "negative dimension -16"},
      {"state named like an input",
       [&](Json &j) {
         Json c = cache;
         c["name"] = j["entry_points"][0]["inputs"][0]["name"];
         j["entry_points"][0]["state"] = Json::array({c});
       },
       "has an input and a state named"},
      {"two states of one name",
       [&](Json &j) { j["entry_points"][0]["state"] = Json::array({cache, cache}); },
       "two outputs or states named"},
  };
  for (const Lie &lie : lies) {
    Status s = loadEdited(lie.edit);
    EXPECT_FALSE(s.ok()) << lie.what;
    EXPECT_NE(s.message().find(lie.expect), std::string::npos) << lie.what << ": " << s.message();
  }
}

// The CPU a target's code was compiled for and the ISA extensions it needs (format 1.3): read,
// written back in the same order, optional (older artifacts have neither), and refused when
// malformed. Names the runtime does not know are kept: the executor refuses them, not the reader.
TEST(Manifest, TargetCPUFeatures) {
  Manifest m;
  {
    Json j = sampleJson();
    EXPECT_FALSE(j["targets"][0].contains("cpu"));
    EXPECT_FALSE(j["targets"][0].contains("cpu_features"));
    ASSERT_TRUE(parseManifest(j.dump(), m).ok());
    EXPECT_TRUE(m.targets[0].cpu.empty());
    EXPECT_TRUE(m.targets[0].cpuFeatures.empty());

    j["targets"][0]["cpu"] = "znver4";
    j["targets"][0]["cpu_features"] = {"avx2", "avx512f", "zz-future-ext"};
    ASSERT_TRUE(parseManifest(j.dump(), m).ok());
  }
  EXPECT_EQ(m.targets[0].cpu, "znver4");
  EXPECT_EQ(m.targets[0].cpuFeatures,
            (std::vector<std::string>{"avx2", "avx512f", "zz-future-ext"}));
  std::string text;
  ASSERT_TRUE(serializeManifest(m, text).ok());
  Json written = Json::parse(text);
  EXPECT_EQ(written["targets"][0]["cpu"], "znver4");
  EXPECT_EQ(written["targets"][0]["cpu_features"],
            Json::array({"avx2", "avx512f", "zz-future-ext"}));
  Manifest back;
  ASSERT_TRUE(parseManifest(text, back).ok());
  EXPECT_EQ(back.targets[0].cpu, m.targets[0].cpu);
  EXPECT_EQ(back.targets[0].cpuFeatures, m.targets[0].cpuFeatures);

  // A CPU without any checked extension still says so: an empty list, not a missing key.
  m.targets[0].cpu = "x86-64";
  m.targets[0].cpuFeatures.clear();
  ASSERT_TRUE(serializeManifest(m, text).ok());
  EXPECT_EQ(Json::parse(text)["targets"][0]["cpu_features"], Json::array());

  std::vector<Lie> lies = {
      {"cpu not a string", [](Json &j) { j["targets"][0]["cpu"] = 4; }, "cpu"},
      {"cpu_features not an array", [](Json &j) { j["targets"][0]["cpu_features"] = "avx2"; },
       "cpu_features"},
      {"cpu_features entry not a string",
       [](Json &j) { j["targets"][0]["cpu_features"] = {"avx2", 3}; }, "cpu_features entry"},
      {"cpu feature listed twice",
       [](Json &j) { j["targets"][0]["cpu_features"] = {"avx2", "fma", "avx2"}; },
       "lists the CPU feature \"avx2\" twice"},
      {"empty cpu feature", [](Json &j) { j["targets"][0]["cpu_features"] = {""}; },
       "CPU feature has an empty name"},
  };
  for (const Lie &lie : lies) {
    Status s = loadEdited(lie.edit);
    EXPECT_FALSE(s.ok()) << lie.what;
    EXPECT_NE(s.message().find(lie.expect), std::string::npos) << lie.what << ": " << s.message();
  }
}

// int8_row quantization (format 1.3): the matrix names its scales, the scales name it back.
TEST(Manifest, Int8RowRoundTrips) {
  Json j = sampleJson();
  Json &w = param(j, "wte.weight");
  w["dtype"] = "i8";
  w["quantization"] = "int8_row";
  w["scale"] = "wte.weight.scale";
  Json scale = {{"name", "wte.weight.scale"}, {"shape", {w["shape"][0]}}, {"dtype", "f32"},
                {"init", "ones"}, {"quantization", "none"}, {"scale_of", "wte.weight"}};
  j["parameters"].push_back(scale);
  Manifest m;
  Status s = parseManifest(j.dump(), m);
  ASSERT_TRUE(s.ok()) << s.message();
  const Parameter *p = m.findParameter("wte.weight");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->quant, Quantization::Int8Row);
  EXPECT_EQ(p->scale, "wte.weight.scale");
  EXPECT_EQ(m.findParameter("wte.weight.scale")->scaleOf, "wte.weight");
  std::string text;
  ASSERT_TRUE(serializeManifest(m, text).ok());
  Json again = Json::parse(text);
  EXPECT_EQ(param(again, "wte.weight")["quantization"], "int8_row");
  EXPECT_EQ(param(again, "wte.weight")["scale"], "wte.weight.scale");
  EXPECT_EQ(param(again, "wte.weight.scale")["scale_of"], "wte.weight");
  EXPECT_EQ(param(again, "wte.weight.scale").count("hf_name"), 0u);
  // Scales with a checkpoint name are refused: they are computed, never loaded.
  j["parameters"].back()["hf_name"] = "x";
  s = parseManifest(j.dump(), m);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("cannot have an hf_name"), std::string::npos) << s.message();
}
