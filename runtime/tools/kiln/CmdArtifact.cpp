//===- CmdArtifact.cpp - `kiln info` and `kiln init` ----------------------===//
//
// `kiln info model.kc` describes an artifact; `kiln init model.kc --seed N -o W.safetensors`
// writes freshly initialized weights for its parameter table. See docs/cli.md.
//
//===----------------------------------------------------------------------===//
#include "Commands.h"

#include "kiln/rt/artifact/Artifact.h"
#include "kiln/rt/weights/Weights.h"

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace kiln::cli {
namespace {
using namespace kiln::rt;

const char *kInfoHelp =
    "usage: kiln info MODEL.kc\n"
    "\n"
    "Describes a compiled model artifact: format version, model name and config, targets with\n"
    "their code sizes (the CPU code's with the CPU it was compiled for and the ISA extensions\n"
    "it needs, whether or not this machine has them), entry points with their signatures, the\n"
    "parameter table (names, shapes, dtypes, initialization and Hugging Face names, with\n"
    "totals) and the file's sections.\n"
    "The artifact is fully verified (checksums, manifest) first.\n"
    "\n"
    "exit status: 0 ok, 1 unreadable or invalid artifact, 2 bad command line\n";

const char *kInitHelp =
    "usage: kiln init MODEL.kc [--seed N] -o WEIGHTS.safetensors\n"
    "\n"
    "Writes freshly initialized weights for the model's parameter table, as safetensors with\n"
    "Kiln names: each parameter is normal(0, std), zeros or ones as the model file says, stored\n"
    "in the parameter's dtype (F32, or BF16 rounded to nearest even from the f32 values; an\n"
    "int8_row quantized parameter as its F32 values, which loading quantizes, and its scales\n"
    "not at all). The values depend only on the seed and the parameter names. The output file\n"
    "is replaced atomically.\n"
    "\n"
    "options:\n"
    "  --seed N     random seed, an unsigned 64-bit integer (default 0)\n"
    "  -o, --output PATH   where to write the weights (required)\n"
    "\n"
    "exit status: 0 ok, 1 unreadable or invalid artifact or unwritable output, 2 bad command "
    "line\n";

bool isHelp(const char *a) { return !std::strcmp(a, "--help") || !std::strcmp(a, "-h"); }

int usageError(const char *command, const std::string &message) {
  std::fprintf(stderr, "kiln %s: %s\n(see `kiln %s --help`)\n", command, message.c_str(),
               command);
  return kExitUsage;
}

int reportError(const Status &s) {
  std::fprintf(stderr, "kiln: error: %s\n", s.message().c_str());
  return kExitError;
}

std::string shapeString(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::string signatureString(const TensorSignature &sig) {
  std::string s = sig.name + ": " + dtypeName(sig.dtype) + "[";
  for (size_t i = 0; i < sig.shape.size(); ++i)
    s += (i ? ", " : "") +
         (sig.shape[i].isSymbolic() ? sig.shape[i].symbol : std::to_string(sig.shape[i].size));
  return s + "]";
}

std::string humanBytes(uint64_t bytes) {
  char buf[32];
  if (bytes < 10 * 1024)
    std::snprintf(buf, sizeof buf, "%" PRIu64 " B", bytes);
  else if (bytes < 10 * 1024 * 1024)
    std::snprintf(buf, sizeof buf, "%.1f KiB", bytes / 1024.0);
  else if (bytes < 10ull * 1024 * 1024 * 1024)
    std::snprintf(buf, sizeof buf, "%.1f MiB", bytes / (1024.0 * 1024));
  else
    std::snprintf(buf, sizeof buf, "%.1f GiB", bytes / (1024.0 * 1024 * 1024));
  return buf;
}

void printInfo(const Artifact &a) {
  const Manifest &m = a.manifest();
  std::printf("%s: Kiln artifact, format %u.%u, %" PRIu64 " bytes\n", a.path().c_str(),
              a.versionMajor(), a.versionMinor(), a.fileSize());
  std::printf("model: %s\n", m.model.c_str());

  std::printf("config:%s\n", m.config.empty() ? " (none)" : "");
  for (const auto &kv : m.config)
    std::printf("  %s = %s\n", kv.first.c_str(), kv.second.toString().c_str());

  std::printf("targets:%s\n", m.targets.empty() ? " (none)" : "");
  for (const Target &t : m.targets) {
    const SectionInfo *s = a.findSection(t.codeSection);
    std::printf("  %s: code section %s, %" PRIu64 " bytes\n", t.name.c_str(),
                t.codeSection.c_str(), s ? s->size : 0);
    // Shown whether or not this machine has them: info describes, kiln run refuses.
    if (!t.cpu.empty())
      std::printf("    cpu: %s\n", t.cpu.c_str());
    if (!t.cpu.empty() || !t.cpuFeatures.empty()) {
      std::string features;
      for (const std::string &f : t.cpuFeatures)
        features += (features.empty() ? "" : " ") + f;
      std::printf("    cpu features: %s\n", features.empty() ? "(none)" : features.c_str());
    }
  }

  std::printf("entry points:%s\n", m.entryPoints.empty() ? " (none)" : "");
  for (const EntryPoint &e : m.entryPoints) {
    std::string line = "  " + e.name + "(";
    for (size_t i = 0; i < e.inputs.size(); ++i)
      line += (i ? ", " : "") + signatureString(e.inputs[i]);
    line += ") -> (";
    for (size_t i = 0; i < e.outputs.size(); ++i)
      line += (i ? ", " : "") + signatureString(e.outputs[i]);
    line += ")";
    for (size_t i = 0; i < e.state.size(); ++i)
      line += (i ? ", " : " state (") + signatureString(e.state[i]) +
              (i + 1 == e.state.size() ? ")" : "");
    std::printf("%s\n", line.c_str());
    for (const auto &ts : e.schedules) {
      const SectionInfo *s = a.findSection(ts.second);
      std::printf("    schedule for %s: %s, %" PRIu64 " bytes\n", ts.first.c_str(),
                  ts.second.c_str(), s ? s->size : 0);
    }
  }

  uint64_t values = 0, bytes = 0;
  for (const Parameter &p : m.parameters) {
    values += static_cast<uint64_t>(p.numElements());
    bytes += static_cast<uint64_t>(p.numElements()) * dtypeSize(p.dtype);
  }
  std::printf("parameters: %zu tensors, %" PRIu64 " values, %s\n", m.parameters.size(), values,
              humanBytes(bytes).c_str());
  for (const Parameter &p : m.parameters) {
    std::string init = p.init == InitKind::Normal
                           ? "normal(0, " + ConfigValue::ofFloat(p.initStd).toString() + ")"
                           : initKindName(p.init);
    std::string hf;
    if (!p.hfName.empty()) {
      hf = "  hf: " + p.hfName;
      if (p.hasSlice)
        hf += " [slice " + std::to_string(p.slice.index) + "/" + std::to_string(p.slice.count) +
              " axis " + std::to_string(p.slice.axis) + "]";
      if (p.transpose)
        hf += " (transposed)";
    }
    if (p.quant == Quantization::Int8Row)
      hf += "  int8_row, scales in " + p.scale;
    if (!p.scaleOf.empty())
      hf += "  scales of " + p.scaleOf + " (computed when it loads)";
    std::printf("  %s %s %s %s%s\n", p.name.c_str(), dtypeName(p.dtype),
                shapeString(p.shape).c_str(), init.c_str(), hf.c_str());
  }
  if (!m.hfPrefixes.empty()) {
    std::string s;
    for (const std::string &p : m.hfPrefixes)
      s += (s.empty() ? "" : ", ") + ("'" + p + "'");
    std::printf("hugging face prefixes: %s\n", s.c_str());
  }
  if (!m.hfIgnore.empty()) {
    std::string s;
    for (const std::string &p : m.hfIgnore)
      s += (s.empty() ? "" : ", ") + ("'" + p + "'");
    std::printf("hugging face ignored tensors: %s\n", s.c_str());
  }

  std::printf("sections:\n");
  for (const SectionInfo &s : a.sections())
    std::printf("  %-32s %-8s offset %10" PRIu64 "  %12" PRIu64 " bytes\n", s.name.c_str(),
                sectionKindName(s.kind), s.offset, s.size);
}
} // namespace

int runInfo(int argc, char **argv) {
  const char *path = nullptr;
  for (int i = 1; i < argc; ++i) {
    if (isHelp(argv[i])) {
      std::fputs(kInfoHelp, stdout);
      return kExitOk;
    }
    if (argv[i][0] == '-' && argv[i][1] != 0)
      return usageError("info", std::string("unknown option '") + argv[i] + "'");
    if (path)
      return usageError("info", "expected one artifact, got more");
    path = argv[i];
  }
  if (!path)
    return usageError("info", "missing the artifact (MODEL.kc)");
  Artifact artifact;
  Status s = Artifact::open(path, artifact);
  if (!s.ok())
    return reportError(s);
  printInfo(artifact);
  return std::fflush(stdout) == 0 ? kExitOk : kExitError;
}

int runInit(int argc, char **argv) {
  const char *path = nullptr, *output = nullptr;
  uint64_t seed = 0;
  for (int i = 1; i < argc; ++i) {
    const char *a = argv[i];
    if (isHelp(a)) {
      std::fputs(kInitHelp, stdout);
      return kExitOk;
    }
    if (!std::strcmp(a, "--seed") || !std::strcmp(a, "-o") || !std::strcmp(a, "--output")) {
      if (i + 1 >= argc)
        return usageError("init", std::string(a) + " needs a value");
      const char *v = argv[++i];
      if (!std::strcmp(a, "--seed")) {
        char *end = nullptr;
        errno = 0;
        unsigned long long n = std::strtoull(v, &end, 10);
        if (!*v || *end || errno || v[0] == '-')
          return usageError("init", std::string("--seed expects an unsigned integer, got '") + v +
                                        "'");
        seed = n;
      } else {
        output = v;
      }
      continue;
    }
    if (a[0] == '-' && a[1] != 0)
      return usageError("init", std::string("unknown option '") + a + "'");
    if (path)
      return usageError("init", "expected one artifact, got more");
    path = a;
  }
  if (!path)
    return usageError("init", "missing the artifact (MODEL.kc)");
  if (!output)
    return usageError("init", "missing -o WEIGHTS.safetensors");
  Artifact artifact;
  Status s = Artifact::open(path, artifact);
  if (!s.ok())
    return reportError(s);
  const Manifest &m = artifact.manifest();
  if (!(s = writeInitializedWeights(m, seed, output)).ok())
    return reportError(s);
  // What the file holds: int8_row parameters as f32, their scales not at all.
  uint64_t values = 0, bytes = 0;
  size_t written = 0;
  for (const Parameter &p : m.parameters) {
    if (!p.scaleOf.empty())
      continue;
    ++written;
    values += static_cast<uint64_t>(p.numElements());
    DType stored = p.quant == Quantization::Int8Row ? DType::F32 : p.dtype;
    bytes += static_cast<uint64_t>(p.numElements()) * dtypeSize(stored);
  }
  std::fprintf(stderr, "kiln init: wrote %zu parameters (%" PRIu64 " values, %s) to %s\n",
               written, values, humanBytes(bytes).c_str(), output);
  return kExitOk;
}

} // namespace kiln::cli
