//===- Init.cpp - Deterministic parameter initialization ------------------===//
//
// Normal values: element 2k and 2k+1 of a parameter are the Box-Muller pair of two uniforms
// drawn from SplitMix64 at counters 2k and 2k+1 under a key derived from (seed, parameter name).
// A counter-based generator gives the same values however the work is split across threads.
//
//===----------------------------------------------------------------------===//
#include "kiln/rt/weights/Safetensors.h"
#include "kiln/rt/weights/Weights.h"

#include <algorithm>
#include <cmath>
#include <system_error>
#include <thread>
#include <vector>

namespace kiln::rt {
namespace {
uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/// SplitMix64's output for counter `i` of stream `key`.
uint64_t draw(uint64_t key, uint64_t i) { return mix64(key + (i + 1) * 0x9e3779b97f4a7c15ULL); }

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s)
    h = (h ^ c) * 0x100000001b3ULL;
  return h;
}
} // namespace

void initializeParameter(const Parameter &param, uint64_t seed, float *out) {
  size_t n = static_cast<size_t>(param.numElements());
  if (param.init != InitKind::Normal) {
    float v = param.init == InitKind::Ones ? 1.0f : 0.0f;
    for (size_t i = 0; i < n; ++i)
      out[i] = v;
    return;
  }
  uint64_t key = mix64(seed ^ mix64(fnv1a(param.name)));
  double std = param.initStd;
  auto fillPairs = [=](size_t k0, size_t k1) {
    const double twoPi = 6.283185307179586476925286766559;
    for (size_t k = k0; k < k1; ++k) {
      // u1 in (0, 1] so the logarithm is finite; u2 in [0, 1).
      double u1 = (double((draw(key, 2 * k) >> 11) + 1)) * 0x1.0p-53;
      double u2 = double(draw(key, 2 * k + 1) >> 11) * 0x1.0p-53;
      double r = std::sqrt(-2.0 * std::log(u1)) * std;
      out[2 * k] = static_cast<float>(r * std::cos(twoPi * u2));
      if (2 * k + 1 < n)
        out[2 * k + 1] = static_cast<float>(r * std::sin(twoPi * u2));
    }
  };
  // Each value depends only on its index, so splitting the work changes nothing.
  size_t pairs = (n + 1) / 2;
  size_t threads = std::min<size_t>(std::max(1u, std::thread::hardware_concurrency()),
                                    pairs / (size_t(1) << 16));
  std::vector<std::thread> pool;
  size_t chunk = threads > 1 ? (pairs + threads - 1) / threads : pairs;
  size_t done = 0;
  try {
    for (size_t t = 1; t < threads; ++t, done += chunk)
      pool.emplace_back(fillPairs, done, done + chunk);
  } catch (const std::system_error &) {
    // No more threads: this one does the rest.
  }
  fillPairs(done, pairs);
  for (std::thread &t : pool)
    t.join();
}

Status writeInitializedWeights(const Manifest &manifest, uint64_t seed, const std::string &path) {
  if (Status s = checkParameterDTypes(manifest, path); !s.ok())
    return s;
  std::vector<SafetensorsEntry> entries;
  entries.reserve(manifest.parameters.size());
  for (const Parameter &p : manifest.parameters) {
    if (!p.scaleOf.empty())
      continue; // computed when its int8_row matrix loads
    SafetensorsEntry e;
    e.name = p.name;
    e.dtype = p.quant == Quantization::Int8Row ? DType::F32 : p.dtype;
    e.shape = p.shape;
    if (e.dtype == DType::F32) {
      e.fill = [&p, seed](void *dst) { initializeParameter(p, seed, static_cast<float *>(dst)); };
    } else {
      // bf16: the f32 values of this one parameter, rounded to nearest even.
      e.fill = [&p, seed](void *dst) {
        std::vector<float> values(static_cast<size_t>(p.numElements()));
        initializeParameter(p, seed, values.data());
        uint16_t *out = static_cast<uint16_t *>(dst);
        for (size_t i = 0; i < values.size(); ++i)
          out[i] = floatToBfloat16(values[i]);
      };
    }
    entries.push_back(std::move(e));
  }
  return writeSafetensors(path, entries,
                          {{"kiln.model", manifest.model},
                           {"kiln.seed", std::to_string(seed)}});
}

} // namespace kiln::rt
