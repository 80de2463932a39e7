//===- ModelBench.cpp - Forward-pass throughput of a compiled model -------===//
//
//   kiln-model-bench MODEL.kc WEIGHTS [--threads 1,2] [--tokens 1,64,128] [--batch B]
//                    [--min-time S] [--min-runs N] [--prefill N] [--decode N]
//                    [--profile-dispatches]
//
// Loads the model through the runtime's Executor (the same path as `kiln run`) once per thread
// count and times its `forward` entry point in process for batch B and each sequence length T:
// one warm-up run, then repeated runs (at least --min-runs and --min-time seconds); the median
// is printed as milliseconds and tokens per second (B * T / median). Token ids are drawn from
// [0, vocab_size) with a fixed seed; a `mask` input is all ones, other integer inputs zeros.
// Peak RSS (getrusage) is printed next to the weights file's size. --tokens 0 skips the forward
// runs.
//
// When the artifact has `prefill` and `decode` entry points, a DecoderSession (batch 1) is
// timed the way llama-bench does: pp<N> prefills N tokens into an empty cache (--prefill,
// default 128), tg<N> decodes N tokens one at a time from an empty cache (--decode, default
// 64); each is repeated like the forward runs and reported as tokens per second.
// Figures only: nothing is asserted.
//
// --profile-dispatches: after timing each prefill / decode phase, runs it --min-runs more times
// with the executor's dispatch profile on (Executor::setProfile) and prints, per dispatch of the
// code, sorted by total time: its share, calls and milliseconds per token (wall, and CPU time of
// the dispatching thread: with one thread, the cost without preemption by other processes),
// microseconds per call, workgroups per call, and for dispatches that bind parameters the
// megabytes of parameters per call and the rate they are read at (GB/s, over wall and over CPU
// time); then the same summed per kind (what the dispatches read: the per-layer copies of one
// operation), the replay's time outside the dispatches and the session's time outside the
// replay (the runtime's own overhead). bench/README.md, "Profiling".
//
//===----------------------------------------------------------------------===//
#include "kiln/rt/exec/Executor.h"
#include "kiln/rt/exec/DecoderSession.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <sys/resource.h>
#include <sys/stat.h>
#include <vector>

using namespace kiln::rt;
using namespace kiln::rt::exec;
using Clock = std::chrono::steady_clock;

namespace {

std::vector<long> parseList(const char *text) {
  std::vector<long> out;
  std::string s(text);
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t comma = s.find(',', pos);
    std::string item = s.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    char *end = nullptr;
    long v = std::strtol(item.c_str(), &end, 10);
    if (item.empty() || *end || v <= 0)
      return {};
    out.push_back(v);
    if (comma == std::string::npos)
      break;
    pos = comma + 1;
  }
  return out;
}

double peakRssMiB() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0; // Linux reports KiB
}

/// Prints the dispatch table of one profiled phase (`tokens` tokens per pass, `wallNs` the
/// passes' total wall time).
void printProfile(const char *model, unsigned threads, const char *phase, long tokens,
                  const DispatchProfile &profile, uint64_t wallNs) {
  std::vector<const DispatchProfile::Entry *> rows;
  uint64_t dispatchNs = 0, cpuNs = 0;
  for (const DispatchProfile::Entry &e : profile.entries)
    if (e.calls) {
      rows.push_back(&e);
      dispatchNs += e.nanoseconds;
      cpuNs += e.callerCpuNanoseconds;
    }
  std::sort(rows.begin(), rows.end(),
            [](auto *a, auto *b) { return a->nanoseconds > b->nanoseconds; });
  double totalTokens = double(tokens);
  std::printf("\n%s, %u thread(s), %s: dispatch profile over %.0f tokens\n", model, threads,
              phase, totalTokens);
  std::printf("%-26s %-24s %6s %7s %9s %9s %9s %7s %8s %7s %7s\n", "dispatch", "reads", "share",
              "calls/t", "ms/token", "cpu ms/t", "us/call", "wg/call", "MB/call", "GB/s",
              "cpuGB/s");
  for (const DispatchProfile::Entry *e : rows) {
    double share = dispatchNs ? 100.0 * double(e->nanoseconds) / double(dispatchNs) : 0;
    double msPerToken = double(e->nanoseconds) / 1e6 / totalTokens;
    double usPerCall = double(e->nanoseconds) / 1e3 / double(e->calls);
    double mbPerCall = double(e->parameterBytes) / 1e6 / double(e->calls);
    std::string reads = e->reads.size() > 24 ? e->reads.substr(e->reads.size() - 24) : e->reads;
    std::printf("%-26s %-24s %5.1f%% %7.1f %9.3f %9.3f %9.1f %7.1f", e->name.c_str(),
                reads.c_str(), share, double(e->calls) / totalTokens, msPerToken,
                double(e->callerCpuNanoseconds) / 1e6 / totalTokens, usPerCall,
                double(e->workgroups) / double(e->calls));
    if (e->parameterBytes)
      std::printf(" %8.1f %7.1f %7.1f\n", mbPerCall,
                  double(e->parameterBytes) / double(e->nanoseconds),
                  double(e->parameterBytes) /
                      double(std::max<uint64_t>(e->callerCpuNanoseconds, 1)));
    else
      std::printf(" %8s %7s %7s\n", "-", "-", "-");
  }
  // The same, summed per kind: dispatches that read the same parameter pattern or state (the
  // per-layer copies of one operation).
  struct Kind {
    std::string reads;
    int dispatches = 0;
    uint64_t calls = 0, ns = 0, cpuNs = 0, bytes = 0;
  };
  std::vector<Kind> kinds;
  for (const DispatchProfile::Entry *e : rows) {
    auto it = std::find_if(kinds.begin(), kinds.end(),
                           [&](const Kind &k) { return k.reads == e->reads; });
    if (it == kinds.end())
      it = kinds.insert(kinds.end(), Kind{e->reads});
    it->dispatches += 1;
    it->calls += e->calls;
    it->ns += e->nanoseconds;
    it->cpuNs += e->callerCpuNanoseconds;
    it->bytes += e->parameterBytes;
  }
  std::sort(kinds.begin(), kinds.end(), [](const Kind &a, const Kind &b) { return a.ns > b.ns; });
  std::printf("\nby what they read:\n%-26s %5s %6s %7s %9s %9s %9s %7s %7s\n", "reads", "disp",
              "share", "calls/t", "ms/token", "cpu ms/t", "MB/token", "GB/s", "cpuGB/s");
  for (const Kind &k : kinds) {
    std::string reads = k.reads.size() > 26 ? k.reads.substr(k.reads.size() - 26) : k.reads;
    std::printf("%-26s %5d %5.1f%% %7.1f %9.3f %9.3f", reads.c_str(), k.dispatches,
                dispatchNs ? 100.0 * double(k.ns) / double(dispatchNs) : 0,
                double(k.calls) / totalTokens, double(k.ns) / 1e6 / totalTokens,
                double(k.cpuNs) / 1e6 / totalTokens);
    if (k.bytes)
      std::printf(" %9.1f %7.1f %7.1f\n", double(k.bytes) / 1e6 / totalTokens,
                  double(k.bytes) / double(k.ns),
                  double(k.bytes) / double(std::max<uint64_t>(k.cpuNs, 1)));
    else
      std::printf(" %9s %7s %7s\n", "-", "-", "-");
  }
  double dispatchMs = double(dispatchNs) / 1e6 / totalTokens;
  double replayMs = double(profile.replayNanoseconds) / 1e6 / totalTokens;
  double wallMs = double(wallNs) / 1e6 / totalTokens;
  std::printf("per token: dispatches %.3f ms (caller cpu %.3f ms), replay %.3f ms (%.3f outside "
              "dispatches), wall %.3f ms (%.3f outside the replay)\n",
              dispatchMs, double(cpuNs) / 1e6 / totalTokens, replayMs, replayMs - dispatchMs,
              wallMs, wallMs - replayMs);
}

int fail(const std::string &message) {
  std::fprintf(stderr, "kiln-model-bench: error: %s\n", message.c_str());
  return 1;
}

} // namespace

int main(int argc, char **argv) {
  const char *usage = "usage: kiln-model-bench MODEL.kc WEIGHTS [--threads 1,2] "
                      "[--tokens 1,64,128] [--batch B] [--min-time S] [--min-runs N] "
                      "[--prefill N] [--decode N] [--profile-dispatches]\n";
  if (argc < 3) {
    std::fputs(usage, stderr);
    return 2;
  }
  std::string modelPath = argv[1], weightsPath = argv[2];
  std::vector<long> threadCounts = {1, 2}, tokens = {1, 64, 128};
  long batch = 1, minRuns = 3, prefillTokens = 128, decodeTokens = 64;
  double minTime = 2.0;
  bool profileDispatches = false, skipForward = false;
  for (int i = 3; i < argc; ++i) {
    std::string a = argv[i];
    bool hasValue = i + 1 < argc;
    if (a == "--threads" && hasValue)
      threadCounts = parseList(argv[++i]);
    else if (a == "--tokens" && hasValue && std::strcmp(argv[i + 1], "0") == 0)
      tokens.clear(), ++i, skipForward = true;
    else if (a == "--tokens" && hasValue)
      tokens = parseList(argv[++i]);
    else if (a == "--batch" && hasValue)
      batch = std::atol(argv[++i]);
    else if (a == "--min-time" && hasValue)
      minTime = std::atof(argv[++i]);
    else if (a == "--min-runs" && hasValue)
      minRuns = std::atol(argv[++i]);
    else if (a == "--prefill" && hasValue)
      prefillTokens = std::atol(argv[++i]);
    else if (a == "--decode" && hasValue)
      decodeTokens = std::atol(argv[++i]);
    else if (a == "--profile-dispatches")
      profileDispatches = true;
    else {
      std::fprintf(stderr, "kiln-model-bench: unknown or incomplete argument '%s'\n%s",
                   a.c_str(), usage);
      return 2;
    }
  }
  if (threadCounts.empty() || (tokens.empty() && !skipForward) || batch <= 0 || minRuns <= 0) {
    std::fprintf(stderr, "kiln-model-bench: bad --threads, --tokens, --batch or --min-runs\n%s",
                 usage);
    return 2;
  }

  std::printf("%-8s %3s %5s %5s %10s %10s %7s %9s %9s\n", "model", "thr", "B", "T",
              "median ms", "tokens/s", "runs", "RSS MiB", "wts MiB");
  for (long threads : threadCounts) {
    ExecutorOptions options;
    options.threads = static_cast<unsigned>(threads);
    std::unique_ptr<Executor> exe;
    auto loadStart = Clock::now();
    if (Status s = Executor::create(modelPath, weightsPath, options, exe); !s.ok())
      return fail(s.message());
    double loadMs = std::chrono::duration<double, std::milli>(Clock::now() - loadStart).count();
    std::fprintf(stderr, "loaded %s with %u thread(s) in %.0f ms\n", modelPath.c_str(),
                 exe->threads(), loadMs);
    const Manifest &manifest = exe->manifest();
    // The parameters as the model stores them (bf16 matrices take half of their f32 size).
    double weightsMiB = 0;
    for (const Parameter &p : manifest.parameters)
      weightsMiB += static_cast<double>(p.numElements()) * dtypeSize(p.dtype) / 1048576.0;
    const EntryPoint *forward = manifest.findEntryPoint("forward");
    if (!forward)
      return fail(modelPath + ": the artifact has no forward entry point");
    int64_t vocab = 2;
    if (const ConfigValue *v = manifest.findConfig("vocab_size"); v && v->kind == ConfigValue::Kind::Int)
      vocab = v->i;
    for (long t : tokens) {
      std::mt19937 rng(1234);
      std::uniform_int_distribution<int32_t> ids(0, static_cast<int32_t>(vocab - 1));
      std::vector<NamedTensor> inputs;
      for (const TensorSignature &sig : forward->inputs) {
        if (sig.shape.size() != 2 || sig.dtype != DType::I32)
          return fail(modelPath + ": forward input '" + sig.name +
                      "' is not a [batch, seq] i32 tensor; this benchmark feeds token ids only");
        std::vector<int32_t> values(batch * t);
        for (int32_t &v : values)
          v = sig.name == "mask" ? 1 : sig.name == "ids" ? ids(rng) : 0;
        inputs.push_back({sig.name, Tensor::fromI32({batch, t}, values)});
      }
      std::vector<NamedTensor> outputs;
      if (Status s = exe->run("forward", inputs, outputs); !s.ok()) // warm-up
        return fail(s.message());
      std::vector<double> times;
      auto start = Clock::now();
      while (long(times.size()) < minRuns ||
             std::chrono::duration<double>(Clock::now() - start).count() < minTime) {
        auto t0 = Clock::now();
        if (Status s = exe->run("forward", inputs, outputs); !s.ok())
          return fail(s.message());
        times.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
      }
      std::sort(times.begin(), times.end());
      double median = times[times.size() / 2];
      std::printf("%-8s %3u %5ld %5ld %10.3f %10.1f %7zu %9.0f %9.0f\n", manifest.model.c_str(),
                  exe->threads(), batch, t, median * 1e3, batch * t / median, times.size(),
                  peakRssMiB(), weightsMiB);
      std::fflush(stdout);
    }
    if (manifest.findEntryPoint("prefill") && manifest.findEntryPoint("decode")) {
      std::unique_ptr<DecoderSession> session;
      if (Status s = DecoderSession::create(*exe, 1, session); !s.ok()) {
        std::printf("%-8s %3u  prefill/decode: unavailable (%s)\n", manifest.model.c_str(),
                    exe->threads(), s.message().c_str());
        continue;
      }
      std::mt19937 rng(99);
      std::uniform_int_distribution<int32_t> ids(0, static_cast<int32_t>(vocab - 1));
      std::vector<float> logits(session->vocabSize());
      struct Phase {
        const char *name;
        long tokens;
      };
      for (Phase phase : {Phase{"pp", prefillTokens}, Phase{"tg", decodeTokens}}) {
        if (phase.tokens <= 0 || phase.tokens > session->capacity())
          continue;
        std::vector<int32_t> tokens(phase.tokens);
        for (int32_t &v : tokens)
          v = ids(rng);
        // One pass from an empty cache; the caller empties it (reset() zeroes the whole cache,
        // which is not part of generating).
        auto once = [&]() -> Status {
          if (phase.name[0] == 'p')
            return session->prefill(tokens.data(), phase.tokens, logits.data());
          for (long i = 0; i < phase.tokens; ++i)
            if (Status s = session->decode(&tokens[i], logits.data()); !s.ok())
              return s;
          return Status();
        };
        session->reset();
        if (Status s = once(); !s.ok()) // warm-up
          return fail(s.message());
        std::vector<double> times;
        auto start = Clock::now();
        while (long(times.size()) < minRuns ||
               std::chrono::duration<double>(Clock::now() - start).count() < minTime) {
          session->reset();
          auto t0 = Clock::now();
          if (Status s = once(); !s.ok())
            return fail(s.message());
          times.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
        }
        std::sort(times.begin(), times.end());
        double median = times[times.size() / 2];
        std::printf("%-8s %3u %5d %3s%-3ld %10.3f %10.1f %7zu %9.0f %9.0f\n",
                    manifest.model.c_str(), exe->threads(), 1, phase.name, phase.tokens,
                    median * 1e3, phase.tokens / median, times.size(), peakRssMiB(),
                    weightsMiB);
        std::fflush(stdout);
        if (!profileDispatches)
          continue;
        DispatchProfile profile;
        exe->setProfile(&profile);
        uint64_t wallNs = 0;
        for (long run = 0; run < minRuns; ++run) {
          session->reset();
          auto t0 = Clock::now();
          Status s = once();
          wallNs += uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                 Clock::now() - t0)
                                 .count());
          if (!s.ok())
            return fail(s.message());
        }
        exe->setProfile(nullptr);
        printProfile(manifest.model.c_str(), exe->threads(),
                     phase.name[0] == 'p' ? "prefill" : "decode", phase.tokens * minRuns,
                     profile, wallNs);
        std::printf("\n");
        std::fflush(stdout);
      }
    }
  }
  return 0;
}
