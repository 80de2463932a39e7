//===- kiln-seq2seq-check.cpp - Drives an encoder-decoder DecoderSession ---===//
//
// A test driver, not a user tool (`kiln generate` is the user's entry): runs a compiled
// encoder-decoder model's `encode` once, binds its outputs (the cross-attention keys and values)
// and the source mask to a DecoderSession (bindInput) by name, prefills the first decoder ids
// and decodes the others one at a time, and writes what run_t5_generation.py compares against
// the numpy T5.
//
//   kiln-seq2seq-check MODEL.kc WEIGHTS --out DIR --src IDS --mask IDS --decoder IDS
//       [--prefill N] [--threads N]
//
// IDS are rows ("1,2;3,4"; the batch is the number of rows). `--prefill N` (default 1) decoder
// ids per row go to prefill, the rest to decode calls. The logits of every call go to
// DIR/logits.npy, [calls, batch, vocab], and each output of encode to DIR/<name>.npy. Before
// binding properly, the driver makes the calls a user can get wrong and prints each refusal as
// `refused <case>: <message>` (or `accepted <case>` when it was not refused). Any other failure
// prints its error and exits 1.
//
//===----------------------------------------------------------------------===//
#include "kiln/rt/exec/DecoderSession.h"
#include "kiln/rt/exec/Executor.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

using namespace kiln::rt;
using namespace kiln::rt::exec;

namespace {

/// "1,2;3,4" -> a [rows, cols] i32 tensor; false when ragged or not integers.
bool parseRows(const char *text, Tensor &out) {
  std::vector<int32_t> values;
  int64_t rows = 1, cols = 0, col = 0;
  std::string cur;
  for (const char *p = text;; ++p) {
    if (*p == ',' || *p == ';' || !*p) {
      char *end = nullptr;
      long v = std::strtol(cur.c_str(), &end, 10);
      if (cur.empty() || *end)
        return false;
      values.push_back(int32_t(v));
      cur.clear();
      ++col;
      if (*p != ',') {
        if (cols && col != cols)
          return false;
        cols = col;
        col = 0;
        if (*p == ';')
          ++rows;
      }
      if (!*p)
        break;
    } else {
      cur += *p;
    }
  }
  out = Tensor::fromI32({rows, cols}, values);
  return true;
}

int fail(const std::string &message) {
  std::fprintf(stderr, "kiln-seq2seq-check: %s\n", message.c_str());
  return 1;
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 3)
    return fail("usage: kiln-seq2seq-check MODEL.kc WEIGHTS --out DIR --src IDS --mask IDS "
                "--decoder IDS [--prefill N] [--threads N]");
  std::string out;
  const char *srcText = nullptr, *maskText = nullptr, *decoderText = nullptr;
  int64_t prefillCount = 1;
  ExecutorOptions options;
  for (int i = 3; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--out")
      out = argv[i + 1];
    else if (flag == "--src")
      srcText = argv[i + 1];
    else if (flag == "--mask")
      maskText = argv[i + 1];
    else if (flag == "--decoder")
      decoderText = argv[i + 1];
    else if (flag == "--prefill")
      prefillCount = std::atol(argv[i + 1]);
    else if (flag == "--threads")
      options.threads = unsigned(std::atoi(argv[i + 1]));
    else
      return fail("unknown flag " + flag);
  }
  Tensor src, mask, decoder;
  if (out.empty() || !srcText || !maskText || !decoderText || !parseRows(srcText, src) ||
      !parseRows(maskText, mask) || !parseRows(decoderText, decoder))
    return fail("--out, --src, --mask and --decoder (rectangular integer rows) are required");
  const int64_t batch = src.shape[0], steps = decoder.shape[1];
  if (decoder.shape[0] != batch || prefillCount < 1 || prefillCount > steps)
    return fail("--decoder needs the rows of --src and at least --prefill ids");

  std::unique_ptr<Executor> executor;
  if (Status s = Executor::create(argv[1], argv[2], options, executor); !s.ok())
    return fail(s.message());
  std::vector<NamedTensor> outputs;
  if (Status s = executor->run("encode", {{"ids", src}, {"mask", mask}}, outputs); !s.ok())
    return fail("encode: " + s.message());
  std::printf("encode-outputs:");
  for (const NamedTensor &o : outputs) {
    std::printf(" %s", o.name.c_str());
    if (Status s = writeNpy(out + "/" + o.name + ".npy", o.tensor); !s.ok())
      return fail(s.message());
  }
  std::printf("\n");

  std::unique_ptr<DecoderSession> session;
  if (Status s = DecoderSession::create(*executor, batch, session); !s.ok())
    return fail(s.message());
  std::printf("extra-inputs:");
  for (const TensorSignature &x : session->extraInputs())
    std::printf(" %s", x.name.c_str());
  std::printf("\n");
  // Each extra input is the mask or an output of encode with its name; the probes below use
  // the first f32 one (the cross-attention keys of the first layer, or the encoder states).
  std::vector<std::pair<std::string, const Tensor *>> bindings;
  std::string probed;
  for (const TensorSignature &x : session->extraInputs()) {
    const Tensor *value = x.name == "mask" ? &mask : nullptr;
    for (const NamedTensor &o : outputs)
      if (!value && o.name == x.name)
        value = &o.tensor;
    if (!value)
      return fail("extra input '" + x.name + "' is neither 'mask' nor an output of encode");
    bindings.emplace_back(x.name, value);
    if (probed.empty() && x.dtype == DType::F32)
      probed = x.name;
  }
  if (probed.empty())
    return fail("the session takes no f32 input from encode");
  const Tensor &states = *std::find_if(bindings.begin(), bindings.end(), [&](const auto &b) {
                            return b.first == probed;
                          })->second;
  auto bindAll = [&](bool withMask) -> Status {
    for (const auto &[name, value] : bindings)
      if (name != "mask" || withMask)
        if (Status s = session->bindInput(name, *value); !s.ok())
          return s;
    return Status();
  };

  // What a user can get wrong, each refused without running anything.
  const int64_t vocab = session->vocabSize();
  std::vector<float> logits(size_t(batch * vocab));
  std::vector<int32_t> ids(size_t(batch * steps));
  std::memcpy(ids.data(), decoder.bytes.data(), ids.size() * sizeof(int32_t));
  std::vector<int32_t> first(size_t(batch * prefillCount));
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t s = 0; s < prefillCount; ++s)
      first[size_t(b * prefillCount + s)] = ids[size_t(b * steps + s)];
  auto probe = [&](const char *what, Status s) {
    if (s.ok())
      std::printf("accepted %s\n", what);
    else
      std::printf("refused %s: %s\n", what, s.message().c_str());
  };
  probe("prefill-unbound", session->prefill(first.data(), prefillCount, logits.data()));
  probe("unknown-name", session->bindInput("encoder_output", states));
  probe("wrong-dtype", session->bindInput(probed, mask));
  Tensor narrow = states;
  narrow.shape.back() -= 1;
  narrow.bytes.resize(narrow.bytes.size() / size_t(states.shape.back()) *
                      size_t(narrow.shape.back()));
  probe("wrong-width", session->bindInput(probed, narrow));
  Tensor oneRow = mask;
  oneRow.shape[0] = batch + 1;
  oneRow.bytes.resize(oneRow.bytes.size() / size_t(batch) * size_t(batch + 1));
  probe("wrong-batch", session->bindInput("mask", oneRow));
  Tensor shortMask = Tensor::fromI32({batch, 1}, std::vector<int32_t>(size_t(batch), 1));
  probe("bind-short-mask", session->bindInput("mask", shortMask));
  probe("bind-states", bindAll(/*withMask=*/false));
  probe("prefill-seq-mismatch", session->prefill(first.data(), prefillCount, logits.data()));
  // A source one position shorter, every encode output and the mask agreeing: an entry point
  // compiled for a static source length (kilnc --specialize) refuses it; a dynamic one runs it.
  const int64_t seq = states.shape[1];
  if (seq > 1) {
    for (const auto &[name, value] : bindings) {
      Tensor shorter;
      if (name == "mask") {
        shorter = Tensor::fromI32({batch, seq - 1},
                                  std::vector<int32_t>(size_t(batch * (seq - 1)), 1));
      } else {
        shorter.dtype = DType::F32;
        shorter.shape = {batch, seq - 1, value->shape[2]};
        shorter.bytes.assign(size_t(batch * (seq - 1) * value->shape[2]) * sizeof(float), 0);
      }
      if (!session->bindInput(name, shorter).ok())
        return fail("binding a shorter source was refused");
    }
    probe("shorter-source", session->prefill(first.data(), prefillCount, logits.data()));
    session->reset();
  }

  // The real run.
  if (Status s = bindAll(/*withMask=*/true); !s.ok())
    return fail(s.message());
  std::vector<float> all;
  if (Status s = session->prefill(first.data(), prefillCount, logits.data()); !s.ok())
    return fail("prefill: " + s.message());
  all.insert(all.end(), logits.begin(), logits.end());
  std::vector<int32_t> step(static_cast<size_t>(batch));
  for (int64_t s = prefillCount; s < steps; ++s) {
    for (int64_t b = 0; b < batch; ++b)
      step[size_t(b)] = ids[size_t(b * steps + s)];
    if (Status st = session->decode(step.data(), logits.data()); !st.ok())
      return fail("decode: " + st.message());
    all.insert(all.end(), logits.begin(), logits.end());
  }
  Tensor t;
  t.dtype = DType::F32;
  t.shape = {steps - prefillCount + 1, batch, vocab};
  t.bytes.resize(all.size() * sizeof(float));
  std::memcpy(t.bytes.data(), all.data(), t.bytes.size());
  if (Status s = writeNpy(out + "/logits.npy", t); !s.ok())
    return fail(s.message());
  std::printf("calls: %lld\n", (long long)t.shape[0]);
  return 0;
}
