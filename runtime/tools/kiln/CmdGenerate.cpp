//===- CmdGenerate.cpp - `kiln generate`: prefill + decode, streamed ------===//
//
// Runs a decoder's `prefill` and `decode` entry points through a DecoderSession (batch 1),
// chooses each token with kiln_generate's sampler and prints it as soon as it is chosen: ids
// with --ids, text with --prompt (whole UTF-8 characters only). An encoder-decoder model (T5)
// first runs `encode` on the prompt, binds its states to the session and starts the decoder
// from the decoder start id. docs/generation.md.
//
//===----------------------------------------------------------------------===//
#include "Commands.h"

#include "kiln/rt/exec/DecoderSession.h"
#include "kiln/rt/exec/Executor.h"
#include "kiln/rt/generate/Generator.h"
#include "kiln/rt/generate/TextStreamer.h"
#include "kiln/rt/tokenizer/Tokenizer.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

using namespace kiln::rt;

namespace kiln::cli {
namespace {

const char *kGenerateHelp =
    "usage: kiln generate MODEL.kc --weights WEIGHTS\n"
    "                     (--ids IDS | --prompt TEXT --tokenizer TOKENIZER)\n"
    "                     --max-new-tokens N [--temperature T] [--top-k K] [--top-p P]\n"
    "                     [--repetition-penalty R] [--seed S] [--eos ID]... [--ignore-eos]\n"
    "                     [--no-special-tokens] [--decoder-start ID] [--threads N]\n"
    "\n"
    "Generates a continuation with the model's prefill and decode entry points (the KV cache\n"
    "is kept by the runtime) and streams it to standard output as it is produced: with --ids\n"
    "the new ids separated by spaces, with --prompt the new text (never a broken UTF-8\n"
    "character), each followed by a newline at the end. Statistics go to standard error.\n"
    "For an encoder-decoder model (T5: an artifact with an encode entry point) the prompt is\n"
    "the encoder's input, without padding; the decoder starts from the decoder start id and\n"
    "only the ids it generates are printed.\n"
    "Sampling follows Hugging Face generate(): repetition penalty, then temperature, top-k and\n"
    "top-p; greedy (argmax) when the temperature is 0, the default (docs/generation.md).\n"
    "Flags not given take their value from the generation_config.json beside the weights,\n"
    "as Hugging Face does: with do_sample true its temperature, top_k (default 50) and\n"
    "top_p; its repetition_penalty either way. What it set is noted on standard error.\n"
    "\n"
    "  --weights WEIGHTS         safetensors file, sharded index or folder (docs/weights.md)\n"
    "  --ids IDS                 prompt token ids, \"1,2,3\"\n"
    "  --prompt TEXT             prompt text, encoded with --tokenizer\n"
    "  --tokenizer FILE          tokenizer.json or SentencePiece .model (decodes the output;\n"
    "                            with --ids it only supplies the end-of-sequence id)\n"
    "  --no-special-tokens       encode --prompt without the tokenizer's special tokens\n"
    "  --max-new-tokens N        the most tokens to generate (>= 1)\n"
    "  --temperature T           0: greedy (default); > 0: sample from softmax(logits / T)\n"
    "  --top-k K                 sample among the K most likely tokens (default 0: all)\n"
    "  --top-p P                 sample from the smallest set of mass >= P (default 1: all)\n"
    "  --repetition-penalty R    penalize tokens already in the sequence (default 1: none)\n"
    "  --seed S                  sampling seed, unsigned 64-bit (default 0); the same seed\n"
    "                            gives the same tokens on any machine\n"
    "  --eos ID                  stop after ID (repeatable, or \"ID,ID\"); replaces the ids\n"
    "                            found in the model's config, the generation_config.json\n"
    "                            beside the weights and the tokenizer's config\n"
    "  --ignore-eos              never stop on a token: generate exactly N (or to capacity)\n"
    "  --decoder-start ID        encoder-decoder models: the decoder's first id (default: the\n"
    "                            config's decoder_start_token_id; T5: 0)\n"
    "  --threads N               worker threads (default: all cores)\n"
    "\n"
    "Generation stops at an end-of-sequence id (printed with --ids, not as text), after N new\n"
    "tokens, or when prompt + output fill the model's context (encoder-decoder: when the\n"
    "decoder's start id + output fill it); the statistics say which.\n"
    "\n"
    "Exit status: 0 success, 1 bad input (files, weights, a model without prefill/decode,\n"
    "ids outside the vocabulary, a prompt longer than the context, non-finite logits, CPU\n"
    "code for ISA extensions this CPU lacks), 2 bad usage.\n";

int usageError(const std::string &message) {
  std::fprintf(stderr, "kiln generate: %s\n(see `kiln generate --help`)\n", message.c_str());
  return kExitUsage;
}

int reportError(const std::string &message) {
  std::fprintf(stderr, "kiln: error: %s\n", message.c_str());
  return kExitError;
}

/// The model seen through its decoder session, as kiln_generate's loop wants it.
class SessionSource : public gen::LogitsSource {
public:
  explicit SessionSource(exec::DecoderSession &session) : session_(session) {}
  int64_t vocabSize() const override { return session_.vocabSize(); }
  int64_t capacity() const override { return session_.capacity(); }
  Status prefill(const int32_t *ids, int64_t count, float *logits) override {
    return session_.prefill(ids, count, logits);
  }
  Status decode(int32_t id, float *logits) override { return session_.decode(&id, logits); }

private:
  exec::DecoderSession &session_;
};

bool parseInt(const std::string &text, long long lo, long long hi, long long &out) {
  if (text.empty())
    return false;
  char *end = nullptr;
  errno = 0;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (*end || errno || v < lo || v > hi)
    return false;
  out = v;
  return true;
}

bool parseFloat(const std::string &text, float &out) {
  if (text.empty())
    return false;
  char *end = nullptr;
  errno = 0;
  float v = std::strtof(text.c_str(), &end);
  if (*end || errno || !std::isfinite(v))
    return false;
  out = v;
  return true;
}

/// Parses "1,2,3" (spaces around items allowed). Returns an error message or "".
std::string parseIdList(const char *flag, const std::string &text, std::vector<int32_t> &out) {
  size_t pos = 0;
  while (true) {
    size_t comma = text.find(',', pos);
    std::string item = text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    size_t b = item.find_first_not_of(' '), e = item.find_last_not_of(' ');
    item = b == std::string::npos ? "" : item.substr(b, e - b + 1);
    long long v;
    if (!parseInt(item, INT32_MIN, INT32_MAX, v))
      return std::string(flag) + ": '" + item + "' is not a 32-bit integer";
    out.push_back(int32_t(v));
    if (comma == std::string::npos)
      return "";
    pos = comma + 1;
  }
}

/// The value of `key` in the JSON object in `path` (a config beside the weights or the
/// tokenizer); null when the file or the key is missing. Returns an error message or "".
std::string readOptionalConfigKey(const std::string &path, const char *key,
                                  nlohmann::json &value) {
  value = nullptr;
  std::ifstream in(path);
  if (!in)
    return "";
  nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object())
    return path + ": not a JSON object";
  if (auto it = j.find(key); it != j.end())
    value = std::move(*it);
  return "";
}

/// `eos_token` of the tokenizer_config.json beside `tokenizerPath` (Hugging Face's layout),
/// as an id of `tok`. Errors in that file are reported, a missing file is not.
std::string tokenizerConfigEos(const std::string &tokenizerPath, const tok::Tokenizer &tok,
                               std::vector<int32_t> &ids) {
  std::string path =
      (std::filesystem::path(tokenizerPath).parent_path() / "tokenizer_config.json").string();
  nlohmann::json eos;
  if (std::string err = readOptionalConfigKey(path, "eos_token", eos);
      !err.empty() || eos.is_null())
    return err;
  std::string token;
  if (eos.is_string())
    token = eos.get<std::string>();
  else if (eos.is_object() && eos.contains("content") && eos["content"].is_string())
    token = eos["content"].get<std::string>();
  else
    return path + ": eos_token is neither a string nor an object with a \"content\" string";
  std::optional<uint32_t> id = tok.tokenToId(token);
  if (!id)
    return path + ": eos_token '" + token + "' is not a token of " + tokenizerPath;
  ids.push_back(int32_t(*id));
  return "";
}

/// The generation_config.json of the checkpoint's folder: `weights` itself when it is a
/// folder, else the folder holding it (Hugging Face's layout).
std::string generationConfigPath(const std::string &weights) {
  std::error_code ec;
  std::filesystem::path folder(weights);
  if (!std::filesystem::is_directory(folder, ec))
    folder = folder.parent_path();
  return (folder / "generation_config.json").string();
}

/// The sampling flags given on the command line (they win over generation_config.json).
struct SamplingFlags {
  bool temperature = false, topK = false, topP = false, repetitionPenalty = false;
};

/// The sampling defaults of generation_config.json, as Hugging Face's generate() reads them
/// when called without arguments: with `do_sample: true`, `temperature` (default 1), `top_k`
/// (default 50) and `top_p` (default 1) for each of them not given as a flag; without it,
/// greedy unless --temperature is given; `repetition_penalty` either way (a processor of
/// greedy search too). `applied` describes what the file set ("" when nothing). Errors in the
/// file are reported, a missing file is not.
std::string generationConfigSampling(const std::string &weights, const SamplingFlags &given,
                                     gen::SamplingOptions &sampling, std::string &applied) {
  std::string path = generationConfigPath(weights);
  nlohmann::json j;
  {
    std::ifstream in(path);
    if (!in)
      return "";
    j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object())
      return path + ": not a JSON object";
  }
  // `key`'s value (null or absent: `fallback`), which must satisfy `ok` (`range` says how).
  auto number = [&](const char *key, const char *range, bool (*ok)(double), double fallback,
                    double &out) -> std::string {
    out = fallback;
    auto it = j.find(key);
    if (it == j.end() || it->is_null())
      return "";
    if (!it->is_number() || !ok(it->get<double>()))
      return path + ": " + key + " must be " + range + ", not " + it->dump();
    out = it->get<double>();
    return "";
  };
  bool doSample = false;
  if (auto it = j.find("do_sample"); it != j.end() && !it->is_null()) {
    if (!it->is_boolean())
      return path + ": do_sample must be true or false, not " + it->dump();
    doSample = it->get<bool>();
  }
  double temperature, topK, topP, penalty;
  for (const std::string &err :
       {number("temperature", "a number >= 0",
               [](double v) { return std::isfinite(v) && v >= 0; }, 1.0, temperature),
        number("top_k", "a whole number >= 0",
               [](double v) { return v >= 0 && v <= INT32_MAX && v == std::floor(v); }, 50,
               topK),
        number("top_p", "a number in [0, 1]", [](double v) { return v >= 0 && v <= 1; }, 1.0,
               topP),
        number("repetition_penalty", "a number > 0",
               [](double v) { return std::isfinite(v) && v > 0; }, 1.0, penalty)})
    if (!err.empty())
      return err;
  char text[64];
  if (doSample && !given.temperature) {
    sampling.temperature = float(temperature);
    std::snprintf(text, sizeof text, "temperature %g", temperature);
    applied += text;
    if (!given.topK) {
      sampling.topK = int64_t(topK);
      std::snprintf(text, sizeof text, ", top-k %lld", (long long)topK);
      applied += text;
    }
    if (!given.topP) {
      sampling.topP = float(topP);
      std::snprintf(text, sizeof text, ", top-p %g", topP);
      applied += text;
    }
  }
  if (!given.repetitionPenalty && penalty != 1.0) {
    sampling.repetitionPenalty = float(penalty);
    std::snprintf(text, sizeof text, "%srepetition penalty %g", applied.empty() ? "" : ", ",
                  penalty);
    applied += text;
  }
  return "";
}

/// `eos_token_id` (an id or a list of ids) of the generation_config.json in the checkpoint's
/// folder. Errors in that file are reported, a missing file is not. An id outside the
/// model's vocabulary can never be generated: noted on stderr and left out (Hugging Face's
/// save_pretrained writes GPT-2's 50256 for any vocabulary size).
std::string generationConfigEos(const std::string &weights, int64_t vocab,
                                std::vector<int32_t> &ids) {
  std::string path = generationConfigPath(weights);
  nlohmann::json eos;
  if (std::string err = readOptionalConfigKey(path, "eos_token_id", eos);
      !err.empty() || eos.is_null())
    return err;
  std::vector<nlohmann::json> items;
  if (eos.is_array())
    items.assign(eos.begin(), eos.end());
  else
    items.push_back(eos);
  for (const nlohmann::json &item : items) {
    if (!item.is_number_integer())
      return path + ": eos_token_id must be an id or a list of ids, not " + item.dump();
    int64_t id = item.get<int64_t>();
    if (id < 0 || id >= vocab)
      std::fprintf(stderr,
                   "kiln generate: note: %s: eos_token_id %lld is outside the model's "
                   "vocabulary [0, %lld), so it never ends a sequence\n",
                   path.c_str(), static_cast<long long>(id), static_cast<long long>(vocab));
    else
      ids.push_back(int32_t(id));
  }
  return "";
}

/// Runs `encode` on the source ids (batch 1, a mask of ones: no padding) and binds the
/// session's extra inputs by name to its outputs or inputs. An `encode` compiled for a static
/// source length N (kilnc --specialize seq=N) gets the source padded to N with pad_token_id
/// (0 without one) and a mask of zeros there; a longer source is refused. Returns an error
/// message or "".
std::string encodeSource(exec::Executor &ex, exec::DecoderSession &session,
                         const std::vector<int32_t> &ids, double &encodeMs) {
  const EntryPoint *encode = ex.manifest().findEntryPoint("encode");
  std::string extras;
  for (const TensorSignature &s : session.extraInputs())
    extras += (extras.empty() ? "'" : ", '") + s.name + "'";
  if (!encode)
    return "'prefill' takes inputs " + extras +
           " besides the token ids, and the model has no 'encode' entry point to compute them";
  // Source ids index the shared embedding: bound them as the decoder's ids are.
  int64_t vocab = session.vocabSize();
  if (const ConfigValue *v = ex.manifest().findConfig("vocab_size");
      v && v->kind == ConfigValue::Kind::Int && v->i > 0)
    vocab = std::min<int64_t>(vocab, v->i);
  for (size_t i = 0; i < ids.size(); ++i)
    if (ids[i] < 0 || ids[i] >= vocab)
      return "prompt id " + std::to_string(ids[i]) + " at position " + std::to_string(i) +
             " is outside the vocabulary [0, " + std::to_string(vocab) + ")";
  int64_t n = int64_t(ids.size());
  std::vector<int32_t> padded = ids, mask(ids.size(), 1);
  if (!encode->inputs.empty() && encode->inputs[0].shape.size() == 2 &&
      encode->inputs[0].shape[1].isSymbolic()) {
    const std::string &symbol = encode->inputs[0].shape[1].symbol;
    if (std::optional<int64_t> compiled = exec::compiledSize(ex, "encode", symbol)) {
      bool hasMask = std::any_of(encode->inputs.begin(), encode->inputs.end(),
                                 [](const TensorSignature &s) { return s.name == "mask"; });
      if (n > *compiled || (n < *compiled && !hasMask))
        return "the source has " + std::to_string(n) + " tokens but 'encode' was compiled for " +
               symbol + " = " + std::to_string(*compiled) + " (kilnc --specialize)" +
               (n > *compiled ? "; compile with a larger " + symbol
                              : " and takes no mask to pad it with");
      int32_t pad = 0;
      if (const ConfigValue *v = ex.manifest().findConfig("pad_token_id");
          v && v->kind == ConfigValue::Kind::Int && v->i >= 0 && v->i < vocab)
        pad = int32_t(v->i);
      padded.resize(size_t(*compiled), pad);
      mask.resize(size_t(*compiled), 0);
      n = *compiled;
    }
  }
  std::vector<exec::NamedTensor> inputs, outputs;
  for (size_t i = 0; i < encode->inputs.size(); ++i) {
    const TensorSignature &in = encode->inputs[i];
    if (i == 0)
      inputs.push_back({in.name, exec::Tensor::fromI32({1, n}, padded)});
    else if (in.name == "mask")
      inputs.push_back({in.name, exec::Tensor::fromI32({1, n}, mask)});
    else
      return "kiln generate cannot supply input '" + in.name + "' of 'encode'";
  }
  auto start = std::chrono::steady_clock::now();
  if (Status s = ex.run("encode", inputs, outputs); !s.ok())
    return "encode: " + s.message();
  encodeMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                 .count();
  for (const TensorSignature &x : session.extraInputs()) {
    const exec::Tensor *value = nullptr;
    for (const auto *list : {&outputs, &inputs})
      for (const exec::NamedTensor &t : *list)
        if (!value && t.name == x.name)
          value = &t.tensor;
    if (!value)
      return "input '" + x.name + "' of 'prefill' is neither an output nor an input of 'encode'";
    if (Status s = session.bindInput(x.name, *value); !s.ok())
      return s.message();
  }
  return "";
}

} // namespace

int runGenerate(int argc, char **argv) {
  const char *model = nullptr;
  std::string weights, idsText, prompt, tokenizerPath;
  bool haveIds = false, havePrompt = false, ignoreEos = false, specialTokens = true;
  long long maxNewTokens = -1;
  gen::SamplingOptions sampling;
  SamplingFlags given;
  bool samplingFlags = false;
  std::vector<int32_t> eosFlags;
  unsigned threads = 0;
  std::optional<int32_t> decoderStart;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kGenerateHelp, stdout);
      return kExitOk;
    }
    if (a == "--ignore-eos") {
      ignoreEos = true;
      continue;
    }
    if (a == "--no-special-tokens") {
      specialTokens = false;
      continue;
    }
    static const char *kValued[] = {"--weights", "--ids", "--prompt", "--tokenizer",
                                    "--max-new-tokens", "--temperature", "--top-k", "--top-p",
                                    "--repetition-penalty", "--seed", "--eos", "--threads",
                                    "--decoder-start"};
    if (std::find_if(std::begin(kValued), std::end(kValued),
                     [&](const char *f) { return a == f; }) != std::end(kValued)) {
      if (i + 1 >= argc)
        return usageError(a + " needs a value");
      std::string v = argv[++i];
      long long n;
      if (a == "--weights") {
        weights = v;
      } else if (a == "--ids") {
        if (haveIds)
          return usageError("--ids given twice");
        haveIds = true;
        idsText = v;
      } else if (a == "--prompt") {
        if (havePrompt)
          return usageError("--prompt given twice");
        havePrompt = true;
        prompt = v;
      } else if (a == "--tokenizer") {
        tokenizerPath = v;
      } else if (a == "--max-new-tokens") {
        if (!parseInt(v, 1, INT32_MAX, n))
          return usageError("--max-new-tokens expects a number >= 1, got '" + v + "'");
        maxNewTokens = n;
      } else if (a == "--temperature") {
        if (!parseFloat(v, sampling.temperature) || sampling.temperature < 0)
          return usageError("--temperature expects a number >= 0, got '" + v + "'");
        given.temperature = true;
      } else if (a == "--top-k") {
        if (!parseInt(v, 0, INT32_MAX, n))
          return usageError("--top-k expects a number >= 0, got '" + v + "'");
        sampling.topK = n;
        given.topK = samplingFlags = true;
      } else if (a == "--top-p") {
        if (!parseFloat(v, sampling.topP) || sampling.topP < 0 || sampling.topP > 1)
          return usageError("--top-p expects a number in [0, 1], got '" + v + "'");
        given.topP = samplingFlags = true;
      } else if (a == "--repetition-penalty") {
        if (!parseFloat(v, sampling.repetitionPenalty) || sampling.repetitionPenalty <= 0)
          return usageError("--repetition-penalty expects a number > 0, got '" + v + "'");
        given.repetitionPenalty = true;
      } else if (a == "--seed") {
        char *end = nullptr;
        errno = 0;
        unsigned long long s = std::strtoull(v.c_str(), &end, 10);
        if (v.empty() || *end || errno || v[0] == '-')
          return usageError("--seed expects an unsigned 64-bit number, got '" + v + "'");
        sampling.seed = s;
        samplingFlags = true;
      } else if (a == "--eos") {
        if (std::string err = parseIdList("--eos", v, eosFlags); !err.empty())
          return usageError(err);
      } else if (a == "--decoder-start") {
        if (!parseInt(v, 0, INT32_MAX, n))
          return usageError("--decoder-start expects an id >= 0, got '" + v + "'");
        decoderStart = int32_t(n);
      } else if (a == "--threads") {
        if (!parseInt(v, 1, 1024, n))
          return usageError("--threads expects a number from 1 to 1024, got '" + v + "'");
        threads = unsigned(n);
      }
      continue;
    }
    if (a.size() > 1 && a[0] == '-')
      return usageError("unknown option '" + a + "'");
    if (model)
      return usageError("expected one artifact, got more");
    model = argv[i];
  }
  if (!model)
    return usageError("missing the artifact (MODEL.kc)");
  if (weights.empty())
    return usageError("missing --weights WEIGHTS");
  if (haveIds == havePrompt)
    return usageError(haveIds ? "give either --ids or --prompt, not both"
                              : "missing the prompt: --ids IDS or --prompt TEXT");
  if (havePrompt && tokenizerPath.empty())
    return usageError("--prompt needs --tokenizer");
  if (maxNewTokens < 0)
    return usageError("missing --max-new-tokens N");
  if (ignoreEos && !eosFlags.empty())
    return usageError("--eos and --ignore-eos contradict each other");

  std::vector<int32_t> promptIds;
  if (haveIds)
    if (std::string err = parseIdList("--ids", idsText, promptIds); !err.empty())
      return usageError(err);

  auto start = std::chrono::steady_clock::now();
  std::unique_ptr<tok::Tokenizer> tokenizer;
  if (!tokenizerPath.empty()) {
    try {
      tokenizer = tok::Tokenizer::fromFile(tokenizerPath);
    } catch (const std::exception &e) {
      return reportError(e.what());
    }
  }
  if (havePrompt) {
    for (uint32_t id : tokenizer->encode(prompt, specialTokens).ids)
      promptIds.push_back(int32_t(id));
    if (promptIds.empty())
      return reportError("the prompt encodes to no tokens; generation needs at least one");
  }

  std::unique_ptr<exec::Executor> ex;
  exec::ExecutorOptions exOptions;
  exOptions.threads = threads;
  if (Status s = exec::Executor::create(model, weights, exOptions, ex); !s.ok())
    return reportError(s.message());
  std::unique_ptr<exec::DecoderSession> session;
  if (Status s = exec::DecoderSession::create(*ex, 1, session); !s.ok())
    return reportError(s.message());
  SessionSource source(*session);

  // Encoder-decoder: the prompt goes through `encode`; the decoder starts from its start id.
  const bool seq2seq = !session->extraInputs().empty();
  double encodeMs = 0;
  std::vector<int32_t> sourceIds;
  if (seq2seq) {
    if (std::string err = encodeSource(*ex, *session, promptIds, encodeMs); !err.empty())
      return reportError(std::string(model) + ": " + err);
    if (!decoderStart) {
      const ConfigValue *v = ex->manifest().findConfig("decoder_start_token_id");
      if (!v || v->kind != ConfigValue::Kind::Int)
        return reportError(std::string(model) + ": the config has no decoder_start_token_id; "
                                                "give --decoder-start ID");
      decoderStart = int32_t(v->i);
    }
    if (*decoderStart < 0 || *decoderStart >= source.vocabSize())
      return reportError("decoder start id " + std::to_string(*decoderStart) +
                         " is outside the vocabulary [0, " + std::to_string(source.vocabSize()) +
                         ")");
    sourceIds = std::move(promptIds);
    promptIds = {*decoderStart};
  } else if (decoderStart) {
    return reportError(std::string(model) + ": --decoder-start is for encoder-decoder models; "
                                            "this one has no encoder inputs");
  }

  // End-of-sequence ids: --eos alone when given; otherwise the model config's eos_token_id,
  // the checkpoint's generation_config.json and the tokenizer config's eos_token, together
  // (docs/generation.md).
  // Sampling: the flags, then generation_config.json's defaults for what they leave open.
  std::string applied;
  if (std::string err = generationConfigSampling(weights, given, sampling, applied);
      !err.empty())
    return reportError(err);
  if (!applied.empty())
    std::fprintf(stderr, "kiln generate: note: %s from %s%s\n", applied.c_str(),
                 generationConfigPath(weights).c_str(),
                 sampling.greedy() ? "" : " (--temperature 0: greedy)");
  if (sampling.greedy() && samplingFlags)
    std::fprintf(stderr, "kiln generate: note: --top-k, --top-p and --seed have no effect with "
                         "greedy decoding (temperature 0)\n");
  gen::GenerationOptions options;
  options.maxNewTokens = maxNewTokens;
  options.sampling = sampling;
  if (!ignoreEos) {
    options.eosIds = eosFlags;
    if (eosFlags.empty()) {
      for (const auto &[key, value] : ex->manifest().config)
        if (key == "eos_token_id" && value.kind == ConfigValue::Kind::Int &&
            value.i >= 0 && value.i < source.vocabSize())
          options.eosIds.push_back(int32_t(value.i));
      if (std::string err = generationConfigEos(weights, source.vocabSize(), options.eosIds);
          !err.empty())
        return reportError(err);
      if (tokenizer)
        if (std::string err = tokenizerConfigEos(tokenizerPath, *tokenizer, options.eosIds);
            !err.empty())
          return reportError(err);
      std::sort(options.eosIds.begin(), options.eosIds.end());
      options.eosIds.erase(std::unique(options.eosIds.begin(), options.eosIds.end()),
                           options.eosIds.end());
    }
  }
  std::unique_ptr<gen::Generator> generator;
  if (Status s = gen::Generator::create(source, options, generator); !s.ok())
    return reportError(std::string(model) + ": " + s.message());
  if (!ignoreEos && options.eosIds.empty())
    std::fprintf(stderr, "kiln generate: note: no end-of-sequence id is known (--eos ID); "
                         "generating until --max-new-tokens or the context is full\n");
  auto loaded = std::chrono::steady_clock::now();

  // Streaming: ids as they come; text through a TextStreamer with the prompt's tail as
  // context. EOS ids end the stream without being printed as text.
  std::unique_ptr<gen::TextStreamer> streamer;
  if (havePrompt) {
    // The output of an encoder-decoder model starts a text of its own.
    std::vector<uint32_t> context;
    for (size_t i = promptIds.size() > 4 ? promptIds.size() - 4 : 0;
         !seq2seq && i < promptIds.size(); ++i)
      context.push_back(uint32_t(promptIds[i]));
    streamer = std::make_unique<gen::TextStreamer>(
        [&](const std::vector<uint32_t> &ids) { return tokenizer->decode(ids); }, context);
  }
  const std::vector<int32_t> &eos = options.eosIds;
  int64_t printed = 0;
  auto onToken = [&](int32_t id) {
    if (!havePrompt) {
      std::fprintf(stdout, printed++ ? " %d" : "%d", id);
    } else if (std::find(eos.begin(), eos.end(), id) == eos.end()) {
      std::string text = streamer->push(uint32_t(id));
      std::fwrite(text.data(), 1, text.size(), stdout);
    }
    std::fflush(stdout);
    return true;
  };
  gen::GenerationStats stats;
  Status s = generator->generate(promptIds.data(), int64_t(promptIds.size()), onToken, stats);
  if (streamer) {
    std::string rest = streamer->finish();
    std::fwrite(rest.data(), 1, rest.size(), stdout);
  }
  std::fputs("\n", stdout);
  std::fflush(stdout);
  if (!s.ok())
    return reportError(std::string(model) + ": " + s.message());
  auto ms = [](auto a, auto b) { return std::chrono::duration<double, std::milli>(b - a).count(); };
  if (seq2seq)
    std::fprintf(stderr, "kiln generate: %lld source tokens, encode %.1f ms\n",
                 (long long)sourceIds.size(), encodeMs);
  std::fprintf(stderr,
               "kiln generate: %lld prompt tokens, %lld new tokens, stopped by %s; load %.1f ms, "
               "prefill %.1f ms, first token %.1f ms, decode %.1f tokens/s, %u threads\n",
               (long long)stats.promptTokens, (long long)stats.newTokens,
               gen::stopReasonName(stats.stopReason), ms(start, loaded), stats.prefillMs,
               stats.timeToFirstTokenMs, stats.decodeTokensPerSecond(), ex->threads());
  return kExitOk;
}

} // namespace kiln::cli
