//===- kiln-decode-check.cpp - Drives a DecoderSession for the generation tests ===//
//
// A test driver, not a user tool (`kiln generate` is the user's entry): runs a compiled
// model's `prefill` / `decode` through a DecoderSession and writes what the Python test
// (run_generation.py) compares against numpy references.
//
//   kiln-decode-check MODEL.kc WEIGHTS --out DIR [--threads N] [--batch B]
//       [--prompt IDS]             prefill [batch, seq] ids ("1,2;3,4")
//       [--decode IDS]...          one decode step, one id per row ("5;6")
//       [--greedy N]               N greedy steps through decode after the prompt
//       [--greedy-forward N]       N greedy steps recomputing the whole sequence with forward
//       [--reset 1]                empty the session's cache (position 0)
//       [--host-services 0]        the code without the runtime's services (its chunk
//                                  dispatches on the calling thread, malloc for temporaries)
//
// The logits of every prefill / decode call (in order) go to DIR/logits.npy, [calls, batch,
// vocab]. Greedy ids are printed as `greedy-session: ...` / `greedy-forward: ...`. The number of
// heap allocations made by decode calls after the first one is printed as
// `decode-heap-allocations: N`, the wall time of the calls as `prefill-ms` /
// `decode-ms-per-call`. The blocks the device took for the code's temporaries after each step,
// cumulative, are printed as `temporary-blocks-after-steps: N...`. Each prompt prints
// `prompt-fewest-dispatch-calls: N`, the fewest times any dispatch that ran during it ran (1:
// the logits were computed once, however many chunks or tokens filled the cache). A refused
// call prints its error and exits 1.
//
//===----------------------------------------------------------------------===//
#include "kiln/rt/exec/DecoderSession.h"
#include "kiln/rt/exec/Executor.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

// Counts every operator new in the process, as test/unit/hal/HALTest.cpp does.
static std::atomic<long> gAllocations{0};
void *operator new(size_t size) {
  ++gAllocations;
  if (void *p = std::malloc(size ? size : 1))
    return p;
  throw std::bad_alloc();
}
void operator delete(void *p) noexcept { std::free(p); }
void operator delete(void *p, size_t) noexcept { std::free(p); }

using namespace kiln::rt;
using namespace kiln::rt::exec;

namespace {

/// "1,2;3,4" -> rows of ids.
bool parseRows(const char *text, std::vector<std::vector<int32_t>> &rows) {
  rows.assign(1, {});
  std::string cur;
  auto flush = [&]() {
    if (cur.empty())
      return false;
    char *end = nullptr;
    long v = std::strtol(cur.c_str(), &end, 10);
    if (*end)
      return false;
    rows.back().push_back(int32_t(v));
    cur.clear();
    return true;
  };
  for (const char *p = text;; ++p) {
    if (*p == ',' || *p == ';' || !*p) {
      if (!flush())
        return false;
      if (*p == ';')
        rows.emplace_back();
      if (!*p)
        break;
    } else {
      cur += *p;
    }
  }
  for (const auto &r : rows)
    if (r.size() != rows[0].size())
      return false;
  return true;
}

int fail(const std::string &msg) {
  std::fprintf(stderr, "kiln-decode-check: %s\n", msg.c_str());
  return 1;
}

std::vector<int32_t> argmaxRows(const std::vector<float> &logits, int64_t batch, int64_t vocab,
                                int64_t rowStride, int64_t offset) {
  std::vector<int32_t> out(batch);
  for (int64_t b = 0; b < batch; ++b) {
    const float *row = logits.data() + b * rowStride + offset;
    int64_t best = 0;
    for (int64_t v = 1; v < vocab; ++v)
      if (row[v] > row[best])
        best = v;
    out[b] = int32_t(best);
  }
  return out;
}

std::string idsText(const std::vector<std::vector<int32_t>> &rows) {
  std::string s;
  for (size_t r = 0; r < rows.size(); ++r) {
    s += r ? " | " : "";
    for (size_t i = 0; i < rows[r].size(); ++i)
      s += (i ? " " : "") + std::to_string(rows[r][i]);
  }
  return s;
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 3)
    return fail("usage: kiln-decode-check MODEL.kc WEIGHTS --out DIR [options]");
  std::string model = argv[1], weights = argv[2], out;
  ExecutorOptions options;
  options.threads = 1;
  int64_t batch = 1;
  struct Step {
    enum { Prompt, Decode, Greedy, GreedyForward, Reset } kind;
    std::vector<std::vector<int32_t>> rows;
    int64_t count = 0;
  };
  std::vector<Step> steps;
  for (int i = 3; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc)
      return fail("option " + a + " needs a value");
    const char *v = argv[++i];
    if (a == "--out") {
      out = v;
    } else if (a == "--threads") {
      options.threads = unsigned(std::atoi(v));
    } else if (a == "--host-services") {
      options.hostServices = std::atoi(v) != 0;
    } else if (a == "--batch") {
      batch = std::atoll(v);
    } else if (a == "--prompt" || a == "--decode") {
      Step s{a == "--prompt" ? Step::Prompt : Step::Decode, {}, 0};
      if (!parseRows(v, s.rows))
        return fail("bad ids '" + std::string(v) + "'");
      steps.push_back(std::move(s));
    } else if (a == "--reset") {
      steps.push_back({Step::Reset, {}, 0});
    } else if (a == "--greedy" || a == "--greedy-forward") {
      steps.push_back({a == "--greedy" ? Step::Greedy : Step::GreedyForward, {}, std::atoll(v)});
    } else {
      return fail("unknown option " + a);
    }
  }
  if (out.empty())
    return fail("--out DIR is required");

  std::unique_ptr<Executor> executor;
  if (Status s = Executor::create(model, weights, options, executor); !s.ok())
    return fail(s.message());
  std::unique_ptr<DecoderSession> session;
  if (Status s = DecoderSession::create(*executor, batch, session); !s.ok())
    return fail(s.message());
  const int64_t vocab = session->vocabSize();
  std::printf("capacity: %lld vocab: %lld\n", (long long)session->capacity(), (long long)vocab);

  std::vector<float> all;            // every call's logits
  std::vector<float> logits(batch * vocab);
  std::vector<std::vector<int32_t>> sequence(batch); // every token so far, per row
  long decodeAllocations = 0, decodes = 0;
  double decodeSeconds = 0, prefillSeconds = 0;
  auto now = []() { return std::chrono::steady_clock::now(); };
  auto record = [&]() { all.insert(all.end(), logits.begin(), logits.end()); };
  auto decodeOne = [&](const std::vector<int32_t> &ids) -> Status {
    long before = gAllocations.load();
    auto start = now();
    Status s = session->decode(ids.data(), logits.data());
    decodeSeconds += std::chrono::duration<double>(now() - start).count();
    if (decodes++ > 0)
      decodeAllocations += gAllocations.load() - before;
    return s;
  };
  std::vector<uint64_t> temporaryBlocks; // after each step
  for (Step &step : steps) {
    temporaryBlocks.push_back(executor->temporaryMemory().blocks);
    switch (step.kind) {
    case Step::Prompt: {
      if (int64_t(step.rows.size()) != batch)
        return fail("--prompt has " + std::to_string(step.rows.size()) + " rows, batch is " +
                    std::to_string(batch));
      std::vector<int32_t> flat;
      for (int64_t b = 0; b < batch; ++b) {
        flat.insert(flat.end(), step.rows[b].begin(), step.rows[b].end());
        sequence[b].insert(sequence[b].end(), step.rows[b].begin(), step.rows[b].end());
      }
      DispatchProfile profile;
      executor->setProfile(&profile);
      auto start = now();
      Status prefilled =
          session->prefill(flat.data(), int64_t(step.rows[0].size()), logits.data());
      prefillSeconds += std::chrono::duration<double>(now() - start).count();
      executor->setProfile(nullptr);
      if (!prefilled.ok())
        return fail(prefilled.message());
      uint64_t fewest = 0;
      for (const DispatchProfile::Entry &e : profile.entries)
        if (e.calls && (!fewest || e.calls < fewest))
          fewest = e.calls;
      std::printf("prompt-fewest-dispatch-calls: %llu\n", (unsigned long long)fewest);
      record();
      break;
    }
    case Step::Decode: {
      std::vector<int32_t> ids;
      for (const auto &r : step.rows)
        ids.insert(ids.end(), r.begin(), r.end());
      if (int64_t(ids.size()) != batch)
        return fail("--decode needs one id per row");
      for (int64_t b = 0; b < batch; ++b)
        sequence[b].push_back(ids[b]);
      if (Status s = decodeOne(ids); !s.ok())
        return fail(s.message());
      record();
      break;
    }
    case Step::Greedy: {
      std::vector<std::vector<int32_t>> generated(batch);
      for (int64_t n = 0; n < step.count; ++n) {
        std::vector<int32_t> next = argmaxRows(logits, batch, vocab, vocab, 0);
        for (int64_t b = 0; b < batch; ++b)
          generated[b].push_back(next[b]);
        if (Status s = decodeOne(next); !s.ok())
          return fail(s.message());
        record();
      }
      std::printf("greedy-session: %s\n", idsText(generated).c_str());
      break;
    }
    case Step::Reset:
      session->reset();
      for (auto &row : sequence)
        row.clear();
      break;
    case Step::GreedyForward: {
      // Independent of the session: the whole sequence through `forward` at every step.
      std::vector<std::vector<int32_t>> seqs = sequence, generated(batch);
      for (int64_t n = 0; n < step.count; ++n) {
        int64_t len = int64_t(seqs[0].size());
        std::vector<int32_t> flat;
        for (const auto &r : seqs)
          flat.insert(flat.end(), r.begin(), r.end());
        std::vector<NamedTensor> inputs(1), outputs;
        inputs[0].name = "ids";
        inputs[0].tensor = Tensor::fromI32({batch, len}, flat);
        if (Status s = executor->run("forward", inputs, outputs); !s.ok())
          return fail(s.message());
        std::vector<float> full(outputs[0].tensor.numElements());
        std::memcpy(full.data(), outputs[0].tensor.bytes.data(), full.size() * sizeof(float));
        std::vector<int32_t> next = argmaxRows(full, batch, vocab, len * vocab, (len - 1) * vocab);
        for (int64_t b = 0; b < batch; ++b) {
          generated[b].push_back(next[b]);
          seqs[b].push_back(next[b]);
        }
      }
      std::printf("greedy-forward: %s\n", idsText(generated).c_str());
      break;
    }
    }
  }
  temporaryBlocks.push_back(executor->temporaryMemory().blocks);
  std::printf("temporary-blocks-after-steps:");
  for (size_t i = 1; i < temporaryBlocks.size(); ++i)
    std::printf(" %llu", (unsigned long long)temporaryBlocks[i]);
  std::printf("\n");
  std::printf("position: %lld\n", (long long)session->position());
  std::printf("decode-calls: %ld decode-heap-allocations: %ld\n", decodes, decodeAllocations);
  std::printf("prefill-ms: %.3f decode-ms-per-call: %.3f\n", prefillSeconds * 1e3,
              decodes ? decodeSeconds * 1e3 / double(decodes) : 0.0);
  Tensor t;
  t.dtype = DType::F32;
  t.shape = {int64_t(all.size() / (batch * vocab)), batch, vocab};
  t.bytes.resize(all.size() * sizeof(float));
  if (!all.empty())
    std::memcpy(t.bytes.data(), all.data(), t.bytes.size());
  if (Status s = writeNpy(out + "/logits.npy", t); !s.ok())
    return fail(s.message());
  return 0;
}
