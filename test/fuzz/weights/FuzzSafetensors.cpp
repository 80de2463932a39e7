//===- FuzzSafetensors.cpp - libFuzzer entry for safetensors and loading ==//
//
// Parses the input as a safetensors file; when it is accepted, reads every tensor (every byte
// of every accepted range must be readable) and loads it against a small GPT-2-like parameter
// table in both Kiln and Hugging Face naming, exercising slices and transposes, with the
// matrices as f32, as bf16 and as int8_row quantized parameters.
//
//===----------------------------------------------------------------------===//
#include "kiln/rt/weights/Safetensors.h"
#include "kiln/rt/weights/Weights.h"

#include <cstdlib>
#include <vector>

using namespace kiln::rt;

static Manifest fuzzManifest() {
  Manifest m;
  m.model = "fuzz";
  m.hfPrefixes = {"transformer."};
  m.hfIgnore = {"lm_head.weight", "h.*.attn.bias"};
  auto add = [&](const char *name, std::vector<int64_t> shape, const char *hf, bool t,
                 int index = -1) {
    Parameter p;
    p.name = name;
    p.shape = shape;
    p.hfName = hf;
    p.transpose = t;
    if (index >= 0) {
      p.hasSlice = true;
      p.slice = {index, 3, 1};
    }
    m.parameters.push_back(p);
  };
  add("wte.weight", {4, 2}, "wte.weight", false);
  add("a.q", {2, 2}, "c_attn.weight", true, 0);
  add("a.k", {2, 2}, "c_attn.weight", true, 1);
  add("a.v", {2, 2}, "c_attn.weight", true, 2);
  add("ln.bias", {2}, "ln.bias", false);
  return m;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  // Copy so the reader sees exactly `size` bytes (ASan catches reads past the end).
  std::vector<uint8_t> bytes(data, data + size);
  SafetensorsFile f;
  Status s = SafetensorsFile::fromBuffer(bytes.data(), bytes.size(), "fuzz.safetensors", f);
  if (!s.ok()) {
    if (s.message().empty())
      std::abort();
    return 0;
  }
  for (const SafetensorsTensor &t : f.tensors()) {
    if (t.end - t.begin > (1u << 20))
      continue;
    if (isFloatingPoint(t.dtype)) {
      std::vector<float> out(static_cast<size_t>(t.numElements()));
      if (!f.readF32(t, out.data()).ok())
        std::abort();
    }
  }
  // The same table in f32, and with the matrices in bf16 (converted, or in place).
  static const Manifest f32Table = fuzzManifest();
  static const Manifest bf16Table = [] {
    Manifest m = fuzzManifest();
    for (size_t i = 0; i < 4; ++i)
      m.parameters[i].dtype = DType::BF16;
    return m;
  }();
  // The attention matrices int8_row (quantized per row from sliced, transposed tensors), each
  // with its scale vector; wte bf16.
  static const Manifest int8Table = [] {
    Manifest m = fuzzManifest();
    m.parameters[0].dtype = DType::BF16;
    for (size_t i = 1; i < 4; ++i) {
      Parameter &p = m.parameters[i];
      p.dtype = DType::I8;
      p.quant = Quantization::Int8Row;
      p.scale = p.name + ".scale";
      Parameter s;
      s.name = p.scale;
      s.shape = {p.shape[0]};
      s.init = InitKind::Ones;
      s.scaleOf = p.name;
      m.parameters.push_back(s);
    }
    return m;
  }();
  for (const Manifest *manifest : {&f32Table, &bf16Table, &int8Table}) {
    WeightSet w;
    s = WeightSet::load(*manifest, f, w);
    if (!s.ok())
      continue;
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < w.size(); ++i) {
      const uint8_t *b = static_cast<const uint8_t *>(w.bytes(i));
      for (size_t k = 0; k < w.byteSize(i); ++k)
        sink = sink ^ b[k];
    }
    (void)sink;
  }
  return 0;
}
