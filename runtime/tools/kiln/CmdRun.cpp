//===- CmdRun.cpp - `kiln run`: one forward pass, outputs as .npy ---------===//
#include "Commands.h"

#include "kiln/rt/exec/Executor.h"

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <sys/stat.h>
#include <vector>

using namespace kiln::rt;
using namespace kiln::rt::exec;

namespace kiln::cli {
namespace {

const char *kRunHelp =
    "usage: kiln run MODEL.kc --weights WEIGHTS --ids IDS [--mask IDS] [--type-ids IDS]\n"
    "                [--input NAME=IDS]... --output-dir DIR [--threads N]\n"
    "\n"
    "Runs the model's forward pass once and writes each output as DIR/<output-name>.npy\n"
    "(float32, C order). WEIGHTS is a safetensors file with Kiln or Hugging Face names, a\n"
    "sharded checkpoint's index, or a folder holding either (docs/weights.md).\n"
    "\n"
    "  --ids IDS          token ids, rows separated by ';' (\"1,2,3;4,5,6\": batch 2, seq 3)\n"
    "  --mask IDS         attention mask (1 = attend, 0 = padding), same shape as --ids\n"
    "  --type-ids IDS     token type ids (segment A/B), same shape as --ids\n"
    "  --input NAME=IDS   any other integer input by name (T5: decoder_ids=\"0,5\")\n"
    "  --output-dir DIR   where the .npy files go (created if missing)\n"
    "  --threads N        worker threads (default: all cores)\n"
    "\n"
    "Exit status: 0 success, 1 bad input (files, weights, ids out of range, CPU code for ISA\n"
    "extensions this CPU lacks), 2 bad usage.\n";

int usageError(const std::string &message) {
  std::fprintf(stderr, "kiln run: %s\n(see `kiln run --help`)\n", message.c_str());
  return kExitUsage;
}

int reportError(const Status &s) {
  std::fprintf(stderr, "kiln: error: %s\n", s.message().c_str());
  return kExitError;
}

/// Parses "1,2,3;4,5,6" into a [rows, cols] i32 tensor. Returns an error message or "".
std::string parseIds(const char *flag, const std::string &text, Tensor &out) {
  std::vector<int32_t> values;
  int64_t rows = 0, cols = -1;
  size_t pos = 0;
  while (true) {
    size_t end = text.find(';', pos);
    std::string row = text.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    int64_t count = 0;
    size_t p = 0;
    while (true) {
      size_t comma = row.find(',', p);
      std::string item = row.substr(p, comma == std::string::npos ? std::string::npos : comma - p);
      size_t b = item.find_first_not_of(' '), e = item.find_last_not_of(' ');
      item = b == std::string::npos ? "" : item.substr(b, e - b + 1);
      char *stop = nullptr;
      errno = 0;
      long long v = std::strtoll(item.c_str(), &stop, 10);
      if (item.empty() || *stop || errno || v < INT32_MIN || v > INT32_MAX)
        return std::string(flag) + ": '" + item + "' in row " + std::to_string(rows + 1) +
               " is not a 32-bit integer";
      values.push_back(int32_t(v));
      ++count;
      if (comma == std::string::npos)
        break;
      p = comma + 1;
    }
    if (cols >= 0 && count != cols)
      return std::string(flag) + ": row " + std::to_string(rows + 1) + " has " +
             std::to_string(count) + " values, row 1 has " + std::to_string(cols);
    cols = count;
    ++rows;
    if (end == std::string::npos)
      break;
    pos = end + 1;
  }
  out = Tensor::fromI32({rows, cols}, values);
  return "";
}

/// Range checks that keep lookups inside their tables, from the Hugging Face config keys the
/// model was compiled with.
Status checkRanges(const Manifest &m, const std::string &input, const Tensor &t) {
  auto config = [&](const char *key) -> int64_t {
    for (const auto &[k, v] : m.config)
      if (k == key && v.kind == ConfigValue::Kind::Int)
        return v.i;
    return -1;
  };
  const int32_t *v = reinterpret_cast<const int32_t *>(t.bytes.data());
  int64_t n = t.numElements();
  auto checkBelow = [&](int64_t limit, const char *what) -> Status {
    if (limit < 0)
      return Status::success();
    for (int64_t i = 0; i < n; ++i)
      if (v[i] < 0 || v[i] >= limit)
        return Status::invalid(input + ": value " + std::to_string(v[i]) + " at position " +
                               std::to_string(i) + " is outside [0, " + std::to_string(limit) +
                               ") (" + what + ")");
    return Status::success();
  };
  if (input == "ids") {
    if (Status s = checkBelow(config("vocab_size"), "vocab_size"); !s.ok())
      return s;
    for (const char *key : {"n_positions", "max_position_embeddings"}) {
      int64_t limit = config(key);
      if (limit > 0 && t.shape.size() == 2 && t.shape[1] > limit)
        return Status::invalid(input + ": " + std::to_string(t.shape[1]) +
                               " tokens per sequence; the model takes at most " +
                               std::to_string(limit) + " (" + key + ")");
    }
  }
  if (input == "type_ids")
    return checkBelow(config("type_vocab_size"), "type_vocab_size");
  if (input == "mask")
    return checkBelow(2, "a mask holds 0 or 1");
  return Status::success();
}

} // namespace

int runRun(int argc, char **argv) {
  const char *model = nullptr;
  std::string weights, outputDir;
  std::vector<std::pair<std::string, std::string>> idInputs; // input name, text
  unsigned threads = 0;
  for (int i = 1; i < argc; ++i) {
    const char *a = argv[i];
    if (!std::strcmp(a, "--help") || !std::strcmp(a, "-h")) {
      std::fputs(kRunHelp, stdout);
      return kExitOk;
    }
    bool takesValue = !std::strcmp(a, "--weights") || !std::strcmp(a, "--ids") ||
                      !std::strcmp(a, "--mask") || !std::strcmp(a, "--type-ids") ||
                      !std::strcmp(a, "--output-dir") || !std::strcmp(a, "--threads") ||
                      !std::strcmp(a, "--input");
    if (takesValue) {
      if (i + 1 >= argc)
        return usageError(std::string(a) + " needs a value");
      std::string v = argv[++i];
      if (!std::strcmp(a, "--weights")) {
        weights = v;
      } else if (!std::strcmp(a, "--output-dir")) {
        outputDir = v;
      } else if (!std::strcmp(a, "--threads")) {
        char *end = nullptr;
        errno = 0;
        unsigned long n = std::strtoul(v.c_str(), &end, 10);
        if (v.empty() || *end || errno || v[0] == '-' || n == 0 || n > 1024)
          return usageError("--threads expects a number from 1 to 1024, got '" + v + "'");
        threads = unsigned(n);
      } else if (!std::strcmp(a, "--input")) {
        size_t eq = v.find('=');
        if (eq == std::string::npos || eq == 0)
          return usageError("--input expects NAME=IDS, got '" + v + "'");
        std::string name = v.substr(0, eq);
        for (const auto &[n, _] : idInputs)
          if (n == name)
            return usageError("input '" + name + "' given twice");
        idInputs.emplace_back(name, v.substr(eq + 1));
      } else {
        std::string name = !std::strcmp(a, "--ids")    ? "ids"
                           : !std::strcmp(a, "--mask") ? "mask"
                                                       : "type_ids";
        for (const auto &[n, _] : idInputs)
          if (n == name)
            return usageError(std::string(a) + " given twice");
        idInputs.emplace_back(name, v);
      }
      continue;
    }
    if (a[0] == '-' && a[1] != 0)
      return usageError(std::string("unknown option '") + a + "'");
    if (model)
      return usageError("expected one artifact, got more");
    model = a;
  }
  if (!model)
    return usageError("missing the artifact (MODEL.kc)");
  if (weights.empty())
    return usageError("missing --weights WEIGHTS");
  if (outputDir.empty())
    return usageError("missing --output-dir DIR");
  std::vector<NamedTensor> inputs;
  for (const auto &[name, text] : idInputs) {
    NamedTensor &t = inputs.emplace_back();
    t.name = name;
    std::string flag = name == "ids"        ? "--ids"
                       : name == "mask"     ? "--mask"
                       : name == "type_ids" ? "--type-ids"
                                            : "--input " + name;
    if (std::string err = parseIds(flag.c_str(), text, t.tensor); !err.empty())
      return usageError(err);
  }
  if (inputs.empty())
    return usageError("missing --ids IDS");

  auto start = std::chrono::steady_clock::now();
  std::unique_ptr<Executor> ex;
  ExecutorOptions options;
  options.threads = threads;
  if (Status s = Executor::create(model, weights, options, ex); !s.ok())
    return reportError(s);
  const EntryPoint *forward = nullptr;
  for (const EntryPoint &e : ex->manifest().entryPoints)
    if (e.name == "forward")
      forward = &e;
  if (!forward)
    return reportError(Status::invalid(std::string(model) + ": the model has no forward entry point"));
  for (const NamedTensor &t : inputs) {
    bool known = false;
    for (const TensorSignature &sig : forward->inputs)
      known |= sig.name == t.name;
    if (!known)
      return usageError(std::string(model) + ": the model takes no '" + t.name + "' input");
    if (Status s = checkRanges(ex->manifest(), t.name, t.tensor); !s.ok())
      return reportError(s);
  }
  for (const TensorSignature &sig : forward->inputs) {
    bool given = false;
    for (const NamedTensor &t : inputs)
      given |= sig.name == t.name;
    if (!given)
      return usageError(std::string(model) + ": the model needs input '" + sig.name + "' (" +
                        (sig.name == "ids"        ? std::string("--ids")
                         : sig.name == "mask"     ? std::string("--mask")
                         : sig.name == "type_ids" ? std::string("--type-ids")
                                                  : "--input " + sig.name + "=IDS") +
                        ")");
  }
  auto loaded = std::chrono::steady_clock::now();
  std::vector<NamedTensor> outputs;
  if (Status s = ex->run("forward", inputs, outputs); !s.ok())
    return reportError(s);
  auto done = std::chrono::steady_clock::now();

  if (mkdir(outputDir.c_str(), 0777) != 0 && errno != EEXIST)
    return reportError(Status::ioError(outputDir + ": cannot create the folder: " +
                                       std::strerror(errno)));
  for (const NamedTensor &o : outputs)
    if (Status s = writeNpy(outputDir + "/" + o.name + ".npy", o.tensor); !s.ok())
      return reportError(s);
  auto ms = [](auto a, auto b) { return std::chrono::duration<double, std::milli>(b - a).count(); };
  std::fprintf(stderr, "kiln run: %zu output(s) written to %s; load %.1f ms, forward %.1f ms, %u threads\n",
               outputs.size(), outputDir.c_str(), ms(start, loaded), ms(loaded, done),
               ex->threads());
  return kExitOk;
}

} // namespace kiln::cli
