//===- DecoderSession.cpp - Generation with a runtime-owned KV cache ------===//
//
// create() checks the `prefill` / `decode` signatures (docs/artifact.md, "State"), allocates
// the caches (zeroed), an ids buffer for a whole cache of tokens, the position and the logits,
// and builds every dispatch's bindings once. A call then copies the ids and the position in,
// patches the sequence-length scalars, replays the schedule and copies the logits out: no heap
// allocation on the runtime's side. A call whose logits nobody reads (a prompt's chunks but the
// last, its tokens but the last when they go through decode) stops after the last dispatch that
// writes the KV cache: the rest (the last layer's MLP, the final norm, the lm head) only compute
// logits.
//
//===----------------------------------------------------------------------===//
#include "kiln/rt/exec/DecoderSession.h"

#include "ExecutorImpl.h"

#include <algorithm>
#include <cstring>

namespace kiln::rt::exec {

namespace {

/// One entry point bound to the session's buffers.
struct BoundCall {
  BoundSchedule schedule;
  /// (dispatch, scalar) slots that receive the sequence length.
  std::vector<std::pair<size_t, size_t>> seqSlots;
  /// The dispatches up to the last that binds the KV cache: all a call without logits runs.
  size_t cacheDispatches = 0;
};

std::string dimText(const Dim &d) { return d.isSymbolic() ? d.symbol : std::to_string(d.size); }

std::string shapeText(const TensorSignature &sig) {
  std::string s = "[";
  for (size_t i = 0; i < sig.shape.size(); ++i)
    s += (i ? ", " : "") + dimText(sig.shape[i]);
  return s + "]";
}

const TensorSignature *find(const std::vector<TensorSignature> &list, std::string_view name) {
  for (const TensorSignature &s : list)
    if (s.name == name)
      return &s;
  return nullptr;
}

} // namespace

struct DecoderSession::Impl {
  Executor::Impl *ex = nullptr;
  int64_t batch = 0, capacity = 0, vocab = 0, position = 0, maxTokenId = 0;
  std::string idsName, logitsName, batchSymbol, seqSymbol;
  std::vector<std::string> stateNames;
  std::unique_ptr<hal::Buffer> ids, positionBuffer, logits;
  std::vector<std::unique_ptr<hal::Buffer>> state;
  BoundCall prefill, decode;
  /// Extra inputs (bindInput): signature, buffer (null until bound), bound shape.
  std::vector<TensorSignature> extra;
  std::vector<std::unique_ptr<hal::Buffer>> extraBuffers;
  std::vector<std::vector<int64_t>> extraShapes;
  /// Sizes of the symbols only extra inputs have; valid when !stale.
  std::vector<std::pair<std::string, int64_t>> extraSymbols;
  /// An extra input was bound since the schedules were last bound.
  bool stale = false;

  Status checkEntry(const EntryPoint &e, bool decode);
  Status bind(const std::string &entry, BoundCall &call);
  /// Checks the bound extra inputs against each other and rebinds both schedules.
  Status rebind();
  /// Runs `call` on `seq` tokens per row; row r's tokens start at tokens + r * rowStride. With
  /// a null `out` only the dispatches that fill the KV cache run, and no logits come out.
  Status run(BoundCall &call, const int32_t *tokens, int64_t seq, int64_t rowStride, float *out);
  /// Reads the static sizes of specialized prefill / decode schedules (kilnc --specialize).
  Status checkStatic();
  /// prefill() of an entry point compiled for chunks of `chunk` tokens.
  Status prefillChunked(const int32_t *tokens, int64_t seq, float *out);

  /// Prefill chunk of a specialized `prefill` (its static `seq`); 0 when it takes any length.
  int64_t chunk = 0;
};

Status DecoderSession::Impl::checkEntry(const EntryPoint &e, bool isDecode) {
  auto bad = [&](const std::string &why) {
    return Status::unsupported(ex->path + ": entry point '" + e.name + "' " + why);
  };
  // Inputs: token ids [batch, seq] (decode: [batch, 1]) first and position [1], both i32;
  // any others are extra inputs, bound by bindInput().
  if (e.inputs.size() < 2 || !find(e.inputs, "position") || e.inputs[0].name == "position")
    return bad("must take token ids first and 'position'");
  const TensorSignature &ids = e.inputs[0];
  const TensorSignature &pos = *find(e.inputs, "position");
  std::vector<TensorSignature> others;
  for (size_t i = 1; i < e.inputs.size(); ++i)
    if (e.inputs[i].name != "position")
      others.push_back(e.inputs[i]);
  for (const TensorSignature &x : others)
    if (x.shape.empty() || !(x.shape[0] == ids.shape[0]))
      return bad("has input '" + x.name + "' " + shapeText(x) + "; expected [" +
                 dimText(ids.shape[0]) + ", ...] (batch first)");
  if (ids.dtype != DType::I32 || ids.shape.size() != 2 || !ids.shape[0].isSymbolic())
    return bad("has token ids " + shapeText(ids) + "; expected i32 [batch, seq]");
  if (isDecode ? (ids.shape[1].isSymbolic() || ids.shape[1].size != 1)
               : !ids.shape[1].isSymbolic())
    return bad("has token ids " + shapeText(ids) + "; expected [batch, " +
               (isDecode ? "1" : "seq") + "]");
  if (pos.dtype != DType::I32 || pos.shape.size() != 1 || pos.shape[0].isSymbolic() ||
      pos.shape[0].size != 1)
    return bad("has position " + shapeText(pos) + "; expected i32 [1]");
  if (e.outputs.size() != 1 || e.outputs[0].dtype != DType::F32 ||
      e.outputs[0].shape.size() != 2 || !(e.outputs[0].shape[0] == ids.shape[0]) ||
      e.outputs[0].shape[1].isSymbolic() || e.outputs[0].shape[1].size < 1)
    return bad("must have one output, f32 logits [batch, vocab]");
  if (e.state.empty())
    return bad("has no state (KV cache)");
  for (const TensorSignature &s : e.state) {
    // [layers, batch, max_positions, kv_heads * head_dim], f32.
    bool ok = s.dtype == DType::F32 && s.shape.size() == 4 && s.shape[1] == ids.shape[0];
    for (int d : {0, 2, 3})
      ok = ok && !s.shape[d].isSymbolic() && s.shape[d].size > 0;
    if (!ok)
      return bad("has state '" + s.name + "' " + shapeText(s) +
                 "; expected f32 [layers, batch, max_positions, width]");
  }
  if (!isDecode) {
    idsName = ids.name;
    logitsName = e.outputs[0].name;
    batchSymbol = ids.shape[0].symbol;
    seqSymbol = ids.shape[1].symbol;
    vocab = e.outputs[0].shape[1].size;
    capacity = e.state[0].shape[2].size;
    extra = others;
    for (const TensorSignature &x : extra)
      for (const Dim &d : x.shape)
        if (d.isSymbolic() && d.symbol == seqSymbol)
          return bad("has input '" + x.name + "' " + shapeText(x) +
                     ", sized by the token ids' length");
    for (const TensorSignature &s : e.state) {
      stateNames.push_back(s.name);
      if (s.shape[2].size != capacity)
        return bad("has caches of different capacities");
    }
    return Status::success();
  }
  // decode must agree with prefill on names, vocabulary and state.
  if (ids.name != idsName || e.outputs[0].name != logitsName ||
      e.outputs[0].shape[1].size != vocab || ids.shape[0].symbol != batchSymbol)
    return bad("does not match 'prefill' (ids, logits or batch differ)");
  if (e.state.size() != stateNames.size())
    return bad("does not have the state of 'prefill'");
  bool sameExtra = others.size() == extra.size();
  for (size_t i = 0; sameExtra && i < others.size(); ++i)
    sameExtra = others[i].name == extra[i].name && others[i].dtype == extra[i].dtype &&
                others[i].shape == extra[i].shape;
  if (!sameExtra)
    return bad("does not take the inputs of 'prefill'");
  for (const TensorSignature &s : e.state) {
    const TensorSignature *p = find(ex->artifact.manifest().findEntryPoint("prefill")->state,
                                    s.name);
    if (!p || !(p->shape == s.shape) || p->dtype != s.dtype)
      return bad("has state '" + s.name + "' unlike 'prefill''s");
  }
  return Status::success();
}

Status DecoderSession::Impl::bind(const std::string &entry, BoundCall &call) {
  auto entryBuffer = [&](const BufferRef &ref, hal::Buffer *&buffer) -> Status {
    switch (ref.kind) {
    case BufferRef::Input:
      for (size_t i = 0; i < extra.size(); ++i)
        if (extra[i].name == ref.name) {
          buffer = extraBuffers[i].get();
          return Status::success();
        }
      buffer = ref.name == "position" ? positionBuffer.get() : ids.get();
      return Status::success();
    case BufferRef::Output:
      buffer = logits.get();
      return Status::success();
    default:
      for (size_t i = 0; i < stateNames.size(); ++i)
        if (stateNames[i] == ref.name) {
          buffer = state[i].get();
          return Status::success();
        }
      return Status::invalid(ex->path + ": entry point '" + entry + "' binds unknown state '" +
                             ref.name + "'");
    }
  };
  auto symbol = [&](size_t di, size_t si, const std::string &name, int64_t &value) -> Status {
    if (name == batchSymbol) {
      value = batch;
    } else if (name == seqSymbol) {
      value = 1; // set by each call
      call.seqSlots.emplace_back(di, si);
    } else if (auto it = std::find_if(extraSymbols.begin(), extraSymbols.end(),
                                      [&](const auto &p) { return p.first == name; });
               it != extraSymbols.end()) {
      value = it->second;
    } else {
      return Status::unsupported(ex->path + ": dispatch '" +
                                 ex->schedules.at(entry).dispatches[di].name + "' needs size '" +
                                 name + "', which a decoder session does not bind");
    }
    return Status::success();
  };
  if (Status s = ex->bindSchedule(entry, entryBuffer, symbol, call.schedule); !s.ok())
    return s;
  const std::vector<Dispatch> &dispatches = call.schedule.schedule->dispatches;
  call.cacheDispatches = 0;
  for (size_t i = 0; i < dispatches.size(); ++i)
    for (const BufferRef &ref : dispatches[i].buffers)
      if (ref.kind == BufferRef::State)
        call.cacheDispatches = i + 1;
  // A schedule that binds no state (checkEntry sees only the signature) runs whole.
  if (call.cacheDispatches == 0)
    call.cacheDispatches = dispatches.size();
  return Status::success();
}

Status DecoderSession::Impl::rebind() {
  extraSymbols.clear();
  for (size_t i = 0; i < extra.size(); ++i) {
    if (!extraBuffers[i])
      return Status::invalid(ex->path + ": input '" + extra[i].name +
                             "' of 'prefill' / 'decode' is not bound (DecoderSession::bindInput)");
    for (size_t d = 0; d < extra[i].shape.size(); ++d) {
      const Dim &dim = extra[i].shape[d];
      if (!dim.isSymbolic() || dim.symbol == batchSymbol)
        continue;
      int64_t size = extraShapes[i][d];
      auto it = std::find_if(extraSymbols.begin(), extraSymbols.end(),
                             [&](const auto &p) { return p.first == dim.symbol; });
      if (it == extraSymbols.end()) {
        extraSymbols.emplace_back(dim.symbol, size);
      } else if (it->second != size) {
        std::string first;
        for (size_t j = 0; j < i && first.empty(); ++j)
          for (size_t e = 0; e < extra[j].shape.size(); ++e)
            if (extra[j].shape[e].isSymbolic() && extra[j].shape[e].symbol == dim.symbol)
              first = extra[j].name;
        return Status::invalid(ex->path + ": input '" + extra[i].name + "' has " + dim.symbol +
                               " = " + std::to_string(size) + " but '" + first + "' has " +
                               dim.symbol + " = " + std::to_string(it->second));
      }
    }
  }
  // Specialized entry points (kilnc --specialize) were compiled for one source length.
  for (const char *entry : {"prefill", "decode"})
    for (const auto &[symbol, size] : ex->schedules.at(entry).staticDims)
      for (const auto &[name, bound] : extraSymbols)
        if (name == symbol && bound != size) {
          std::string input;
          for (size_t i = 0; i < extra.size() && input.empty(); ++i)
            for (const Dim &d : extra[i].shape)
              if (d.isSymbolic() && d.symbol == symbol)
                input = extra[i].name;
          return Status::invalid(ex->path + ": input '" + input + "' has " + symbol + " = " +
                                 std::to_string(bound) + " but '" + entry +
                                 "' was compiled for " + symbol + " = " +
                                 std::to_string(size) +
                                 " (kilnc --specialize); pad it to that size with the mask");
        }
  prefill = BoundCall();
  decode = BoundCall();
  if (Status s = bind("prefill", prefill); !s.ok())
    return s;
  if (Status s = bind("decode", decode); !s.ok())
    return s;
  stale = false;
  return Status::success();
}

Status DecoderSession::Impl::checkStatic() {
  for (const char *entry : {"prefill", "decode"})
    for (const auto &[symbol, size] : ex->schedules.at(entry).staticDims) {
      if (symbol == batchSymbol && size != batch)
        return Status::invalid(ex->path + ": entry point '" + entry + "' was compiled for " +
                               symbol + " = " + std::to_string(size) +
                               " (kilnc --specialize); the session has a batch of " +
                               std::to_string(batch));
      if (symbol == seqSymbol && std::string_view(entry) == "prefill")
        chunk = size;
    }
  if (chunk > capacity)
    return Status::invalid(ex->path + ": 'prefill' was compiled for chunks of " +
                           std::to_string(chunk) + " tokens, more than the KV cache's " +
                           std::to_string(capacity) + " positions");
  return Status::success();
}

Status DecoderSession::Impl::prefillChunked(const int32_t *tokens, int64_t seq, float *out) {
  if (seq < 1)
    return Status::invalid("a prefill needs at least one token per row, got " +
                           std::to_string(seq));
  // Refuse before anything runs, so that the session is unchanged.
  if (seq > capacity - position)
    return Status::invalid("cannot append " + std::to_string(seq) + " tokens at position " +
                           std::to_string(position) + ": the KV cache holds " +
                           std::to_string(capacity) + " positions (" + ex->path + ")");
  for (int64_t i = 0; i < batch * seq; ++i)
    if (tokens[i] < 0 || tokens[i] > maxTokenId)
      return Status::invalid("token id " + std::to_string(tokens[i]) + " (row " +
                             std::to_string(i / seq) + ") is outside the vocabulary [0, " +
                             std::to_string(maxTokenId + 1) + ")");
  // Shorter than a chunk: one token at a time through decode; only the last token's logits
  // are returned.
  if (seq < chunk) {
    for (int64_t t = 0; t < seq; ++t)
      if (Status s = run(decode, tokens + t, 1, seq, t + 1 == seq ? out : nullptr); !s.ok())
        return s;
    return Status::success();
  }
  // Chunks at 0, C, 2C, ...; a last partial chunk is run as the C tokens ending the prompt,
  // recomputing a few positions (their keys and values are rewritten with the same values).
  int64_t start = position;
  for (int64_t at = 0; at < seq; at += chunk) {
    int64_t from = std::min(at, seq - chunk);
    position = start + from;
    bool last = at + chunk >= seq;
    if (Status s = run(prefill, tokens + from, chunk, seq, last ? out : nullptr); !s.ok())
      return s;
  }
  return Status::success();
}

Status DecoderSession::Impl::run(BoundCall &call, const int32_t *tokens, int64_t seq,
                                 int64_t rowStride, float *out) {
  if (!tokens)
    return Status::invalid("decoder session: token ids must not be null");
  if (stale)
    if (Status s = rebind(); !s.ok())
      return s;
  if (seq < 1)
    return Status::invalid("a prefill needs at least one token per row, got " +
                           std::to_string(seq));
  if (seq > capacity - position)
    return Status::invalid("cannot append " + std::to_string(seq) + " tokens at position " +
                           std::to_string(position) + ": the KV cache holds " +
                           std::to_string(capacity) + " positions (" + ex->path + ")");
  for (int64_t r = 0; r < batch; ++r)
    for (int64_t i = 0; i < seq; ++i)
      if (int32_t t = tokens[r * rowStride + i]; t < 0 || t > maxTokenId)
        return Status::invalid("token id " + std::to_string(t) + " (row " + std::to_string(r) +
                               ") is outside the vocabulary [0, " +
                               std::to_string(maxTokenId + 1) + ")");
  auto *dst = static_cast<int32_t *>(ids->hostPointer());
  for (int64_t r = 0; r < batch; ++r)
    std::memcpy(dst + r * seq, tokens + r * rowStride, size_t(seq) * sizeof(int32_t));
  int32_t p = int32_t(position);
  std::memcpy(positionBuffer->hostPointer(), &p, sizeof(p));
  for (auto [d, s] : call.seqSlots)
    call.schedule.scalars[d][s] = seq;
  if (Status s = ex->replay(call.schedule, out ? SIZE_MAX : call.cacheDispatches); !s.ok())
    return s;
  if (out)
    std::memcpy(out, logits->hostPointer(), size_t(batch * vocab) * sizeof(float));
  position += seq;
  return Status::success();
}

DecoderSession::DecoderSession() : impl_(std::make_unique<Impl>()) {}
DecoderSession::~DecoderSession() = default;

Status DecoderSession::create(Executor &executor, int64_t batch,
                              std::unique_ptr<DecoderSession> &out) {
  std::unique_ptr<DecoderSession> session(new DecoderSession());
  Impl &m = *session->impl_;
  m.ex = &executor.impl();
  const Manifest &manifest = m.ex->artifact.manifest();
  if (batch < 1 || batch > (int64_t(1) << 20))
    return Status::invalid("a decoder session needs a batch of 1 to 2^20 rows, got " +
                           std::to_string(batch));
  m.batch = batch;
  for (const char *name : {"prefill", "decode"}) {
    const EntryPoint *e = manifest.findEntryPoint(name);
    if (!e)
      return Status::unsupported(m.ex->path + ": the model has no '" + name +
                                 "' entry point (kilnc emits prefill and decode for causal "
                                 "decoders with a maximum number of positions)");
    if (!m.ex->schedules.count(name))
      return Status::unsupported(m.ex->path + ": entry point '" + name + "' has no CPU code");
    if (Status s = m.checkEntry(*e, std::string_view(name) == "decode"); !s.ok())
      return s;
  }
  if (Status s = m.checkStatic(); !s.ok())
    return s;
  // Token ids index the embedding table: bound them by the vocabulary the model was
  // compiled with as well as by the logits' width.
  m.maxTokenId = m.vocab - 1;
  if (const ConfigValue *v = manifest.findConfig("vocab_size");
      v && v->kind == ConfigValue::Kind::Int && v->i > 0)
    m.maxTokenId = std::min(m.maxTokenId, v->i - 1);

  hal::Device &device = *m.ex->device;
  auto allocate = [&](size_t bytes, std::unique_ptr<hal::Buffer> &buffer,
                      const std::string &what) -> Status {
    if (hal::Status s = device.allocateBuffer(std::max<size_t>(bytes, 1), buffer); !s)
      return Status::invalid("decoder session: cannot allocate the " + what + " (" +
                             std::to_string(bytes) + " bytes): " + s.message());
    return Status::success();
  };
  const EntryPoint &prefill = *manifest.findEntryPoint("prefill");
  for (const TensorSignature &s : prefill.state) {
    size_t bytes = sizeof(float) * size_t(batch);
    for (int d : {0, 2, 3})
      bytes *= size_t(s.shape[d].size);
    if (Status st = allocate(bytes, m.state.emplace_back(), "state '" + s.name + "'"); !st.ok())
      return st;
  }
  if (Status st = allocate(sizeof(int32_t) * size_t(batch * m.capacity), m.ids, "token ids");
      !st.ok())
    return st;
  if (Status st = allocate(sizeof(int32_t), m.positionBuffer, "position"); !st.ok())
    return st;
  if (Status st = allocate(sizeof(float) * size_t(batch * m.vocab), m.logits, "logits"); !st.ok())
    return st;
  // With extra inputs the schedules are bound once they are (the first call).
  m.extraBuffers.resize(m.extra.size());
  m.extraShapes.resize(m.extra.size());
  m.stale = !m.extra.empty();
  if (!m.stale) {
    if (Status st = m.bind("prefill", m.prefill); !st.ok())
      return st;
    if (Status st = m.bind("decode", m.decode); !st.ok())
      return st;
  }
  out = std::move(session);
  return Status::success();
}

int64_t DecoderSession::batch() const { return impl_->batch; }
int64_t DecoderSession::position() const { return impl_->position; }
int64_t DecoderSession::capacity() const { return impl_->capacity; }
int64_t DecoderSession::vocabSize() const { return impl_->vocab; }
const std::vector<TensorSignature> &DecoderSession::extraInputs() const { return impl_->extra; }

Status DecoderSession::bindInput(std::string_view name, const Tensor &tensor) {
  Impl &m = *impl_;
  auto it = std::find_if(m.extra.begin(), m.extra.end(),
                         [&](const TensorSignature &s) { return s.name == name; });
  if (it == m.extra.end()) {
    std::string known;
    for (const TensorSignature &s : m.extra)
      known += (known.empty() ? "'" : ", '") + s.name + "'";
    if (known.empty())
      known = "none: it takes only the token ids and the position";
    return Status::invalid(m.ex->path + ": 'prefill' has no input '" + std::string(name) +
                           "' to bind (its other inputs: " + known + ")");
  }
  const TensorSignature &sig = *it;
  auto shapeOf = [](const std::vector<int64_t> &shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i)
      s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
  };
  auto bad = [&](const std::string &why) {
    return Status::invalid(m.ex->path + ": input '" + sig.name + "' expects " +
                           std::string(dtypeName(sig.dtype)) + " " + shapeText(sig) + ", got " +
                           std::string(dtypeName(tensor.dtype)) + " " + shapeOf(tensor.shape) +
                           ": " + why);
  };
  if (tensor.dtype != sig.dtype)
    return bad("the element type differs");
  if (tensor.shape.size() != sig.shape.size())
    return bad("the rank differs");
  int64_t elements = 1;
  for (size_t d = 0; d < sig.shape.size(); ++d) {
    const Dim &dim = sig.shape[d];
    int64_t size = tensor.shape[d];
    if (size < 1)
      return bad("size " + std::to_string(d) + " is not positive");
    if (!dim.isSymbolic() && size != dim.size)
      return bad("size " + std::to_string(d) + " must be " + std::to_string(dim.size));
    if (dim.isSymbolic() && dim.symbol == m.batchSymbol && size != m.batch)
      return bad("the session's batch is " + std::to_string(m.batch));
    if (elements > (int64_t(1) << 40) / size)
      return bad("it is too large");
    elements *= size;
  }
  size_t bytes = size_t(elements) * dtypeSize(sig.dtype);
  if (bytes != tensor.bytes.size())
    return bad("it holds " + std::to_string(tensor.bytes.size()) + " bytes, not " +
               std::to_string(bytes));
  size_t i = size_t(it - m.extra.begin());
  std::unique_ptr<hal::Buffer> &buffer = m.extraBuffers[i];
  if (!buffer || buffer->size() != bytes) {
    std::unique_ptr<hal::Buffer> fresh;
    if (hal::Status s = m.ex->device->allocateBuffer(bytes, fresh); !s)
      return Status::invalid("decoder session: cannot allocate input '" + sig.name + "' (" +
                             std::to_string(bytes) + " bytes): " + s.message());
    buffer = std::move(fresh);
  }
  std::memcpy(buffer->hostPointer(), tensor.bytes.data(), bytes);
  m.extraShapes[i] = tensor.shape;
  m.stale = true;
  return Status::success();
}

Status DecoderSession::prefill(const int32_t *ids, int64_t seq, float *logits) {
  if (!ids || !logits)
    return Status::invalid("decoder session: token ids and logits must not be null");
  if (impl_->chunk > 0)
    return impl_->prefillChunked(ids, seq, logits);
  return impl_->run(impl_->prefill, ids, seq, seq, logits);
}

Status DecoderSession::decode(const int32_t *ids, float *logits) {
  if (!ids || !logits)
    return Status::invalid("decoder session: token ids and logits must not be null");
  return impl_->run(impl_->decode, ids, 1, 1, logits);
}

std::optional<int64_t> compiledSize(Executor &executor, std::string_view entry,
                                    std::string_view symbol) {
  const auto &schedules = executor.impl().schedules;
  auto it = schedules.find(entry);
  if (it == schedules.end())
    return std::nullopt;
  for (const auto &[name, size] : it->second.staticDims)
    if (name == symbol)
      return size;
  return std::nullopt;
}

void DecoderSession::reset() {
  impl_->position = 0;
  // Positions at or past position() are never read, but a clean cache keeps runs reproducible.
  for (std::unique_ptr<hal::Buffer> &b : impl_->state)
    std::memset(b->hostPointer(), 0, b->size());
}

} // namespace kiln::rt::exec
