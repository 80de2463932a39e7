//===- DecoderSession.cpp - Generation with a runtime-owned KV cache ------===//
//
// create() checks the `prefill` / `decode` signatures (docs/artifact.md, "State"), allocates
// the caches (zeroed), an ids buffer for a whole cache of tokens, the position and the logits,
// and builds every dispatch's bindings once. A call then copies the ids and the position in,
// patches the sequence-length scalars, replays the schedule and copies the logits out: no heap
// allocation on the runtime's side.
//
//===----------------------------------------------------------------------===//
#include "kiln/rt/exec/DecoderSession.h"

#include "ExecutorImpl.h"

#include <cstring>

namespace kiln::rt::exec {

namespace {

/// One entry point bound to the session's buffers.
struct BoundCall {
  BoundSchedule schedule;
  /// (dispatch, scalar) slots that receive the sequence length.
  std::vector<std::pair<size_t, size_t>> seqSlots;
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

  Status checkEntry(const EntryPoint &e, bool decode);
  Status bind(const std::string &entry, BoundCall &call);
  Status run(BoundCall &call, const int32_t *tokens, int64_t seq, float *out);
};

Status DecoderSession::Impl::checkEntry(const EntryPoint &e, bool isDecode) {
  auto bad = [&](const std::string &why) {
    return Status::unsupported(ex->path + ": entry point '" + e.name + "' " + why);
  };
  // Inputs: token ids [batch, seq] (decode: [batch, 1]) and position [1], both i32.
  if (e.inputs.size() != 2 || !find(e.inputs, "position"))
    return bad("must take token ids and 'position'");
  const TensorSignature &ids = e.inputs[0].name == "position" ? e.inputs[1] : e.inputs[0];
  const TensorSignature &pos = *find(e.inputs, "position");
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
  for (const TensorSignature &s : e.state) {
    const TensorSignature *p = find(ex->artifact.manifest().findEntryPoint("prefill")->state,
                                    s.name);
    if (!p || !(p->shape == s.shape) || p->dtype != s.dtype)
      return bad("has state '" + s.name + "' unlike 'prefill''s");
  }
  return Status::success();
}

Status DecoderSession::Impl::bind(const std::string &entry, BoundCall &call) {
  if (!ex->schedules.at(entry).staticDims.empty())
    return Status::unsupported(ex->path + ": entry point '" + entry +
                               "' was compiled for static sizes, which a decoder session does "
                               "not run yet");
  auto entryBuffer = [&](const BufferRef &ref, hal::Buffer *&buffer) -> Status {
    switch (ref.kind) {
    case BufferRef::Input:
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
    } else {
      return Status::unsupported(ex->path + ": dispatch '" +
                                 ex->schedules.at(entry).dispatches[di].name + "' needs size '" +
                                 name + "', which a decoder session does not bind");
    }
    return Status::success();
  };
  return ex->bindSchedule(entry, entryBuffer, symbol, call.schedule);
}

Status DecoderSession::Impl::run(BoundCall &call, const int32_t *tokens, int64_t seq, float *out) {
  if (!tokens || !out)
    return Status::invalid("decoder session: token ids and logits must not be null");
  if (seq < 1)
    return Status::invalid("a prefill needs at least one token per row, got " +
                           std::to_string(seq));
  if (seq > capacity - position)
    return Status::invalid("cannot append " + std::to_string(seq) + " tokens at position " +
                           std::to_string(position) + ": the KV cache holds " +
                           std::to_string(capacity) + " positions (" + ex->path + ")");
  int64_t count = batch * seq;
  for (int64_t i = 0; i < count; ++i)
    if (tokens[i] < 0 || tokens[i] > maxTokenId)
      return Status::invalid("token id " + std::to_string(tokens[i]) + " (row " +
                             std::to_string(i / seq) + ") is outside the vocabulary [0, " +
                             std::to_string(maxTokenId + 1) + ")");
  std::memcpy(ids->hostPointer(), tokens, size_t(count) * sizeof(int32_t));
  int32_t p = int32_t(position);
  std::memcpy(positionBuffer->hostPointer(), &p, sizeof(p));
  for (auto [d, s] : call.seqSlots)
    call.schedule.scalars[d][s] = seq;
  if (Status s = ex->replay(call.schedule); !s.ok())
    return s;
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
  if (Status st = m.bind("prefill", m.prefill); !st.ok())
    return st;
  if (Status st = m.bind("decode", m.decode); !st.ok())
    return st;
  out = std::move(session);
  return Status::success();
}

int64_t DecoderSession::batch() const { return impl_->batch; }
int64_t DecoderSession::position() const { return impl_->position; }
int64_t DecoderSession::capacity() const { return impl_->capacity; }
int64_t DecoderSession::vocabSize() const { return impl_->vocab; }

Status DecoderSession::prefill(const int32_t *ids, int64_t seq, float *logits) {
  return impl_->run(impl_->prefill, ids, seq, logits);
}

Status DecoderSession::decode(const int32_t *ids, float *logits) {
  return impl_->run(impl_->decode, ids, 1, logits);
}

void DecoderSession::reset() {
  impl_->position = 0;
  // Positions at or past position() are never read, but a clean cache keeps runs reproducible.
  for (std::unique_ptr<hal::Buffer> &b : impl_->state)
    std::memset(b->hostPointer(), 0, b->size());
}

} // namespace kiln::rt::exec
