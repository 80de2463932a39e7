//===- Schedule.cpp - The schedule of an outlined entry point -------------===//
//
// Reads an entry point cut by formDispatches (func.calls between views and parameter
// references) and describes it for the runtime: the dispatches in order and, for each operand
// and result, the buffer it binds (an entry input, a parameter, an entry output or a
// temporary). Views are the same bytes as their source (dense, row-major), so they bind their
// source's buffer; a layer of a state buffer (isStateSlab) binds that layer's bytes of it.
// Temporaries get live ranges and offsets in one arena.
//
//===----------------------------------------------------------------------===//
#include "Utils.h"

#include "kiln/Dispatch/Dispatch.h"
#include "kiln/Dispatch/Passes.h"

#include "kiln/Dialect/Kiln/KilnDialect.h"
#include "kiln/Dialect/Kiln/KilnOps.h"

#include "llvm/ADT/DenseSet.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/raw_ostream.h"

namespace kiln {
#define GEN_PASS_DEF_KILNPRINTDISPATCHSCHEDULE
#include "kiln/Dispatch/Passes.h.inc"
} // namespace kiln

using namespace mlir;

namespace kiln::dispatch {

namespace {

const char *kindName(Buffer::Kind kind) {
  switch (kind) {
  case Buffer::Input:
    return "input";
  case Buffer::Parameter:
    return "parameter";
  case Buffer::Output:
    return "output";
  case Buffer::Temporary:
    return "temporary";
  case Buffer::State:
    return "state";
  }
  return "";
}

/// The artifact's spelling of an element type (docs/artifact.md).
std::string dtypeName(Type t) {
  if (t.isF64())
    return "f64";
  if (t.isF32())
    return "f32";
  if (t.isF16())
    return "f16";
  if (t.isBF16())
    return "bf16";
  if (t.isInteger(1))
    return "bool";
  if (auto i = dyn_cast<IntegerType>(t))
    return (i.isUnsigned() ? "u" : "i") + std::to_string(i.getWidth());
  std::string s;
  llvm::raw_string_ostream os(s);
  os << t;
  return s;
}

int64_t elementBytes(Type element) {
  return std::max<int64_t>(1, element.getIntOrFloatBitWidth() / 8);
}

void describe(Buffer &buffer, Type type) {
  auto tensor = cast<RankedTensorType>(type);
  buffer.shape.assign(tensor.getShape().begin(), tensor.getShape().end());
  buffer.dtype = dtypeName(tensor.getElementType());
  buffer.bytes = tensor.getNumElements() * elementBytes(tensor.getElementType());
}

/// The bytes of layer `[l, ...]` (isLeadingAxisSlab) in the buffer of `whole`.
ByteRange layerBytes(OffsetSizeAndStrideOpInterface slab, RankedTensorType whole) {
  int64_t layer = whole.getNumElements() / whole.getDimSize(0) *
                  elementBytes(whole.getElementType());
  return {slab.getStaticOffsets()[0] * layer, layer};
}

} // namespace

std::optional<unsigned> tiedOperand(func::FuncOp dispatch, unsigned result) {
  if (dispatch.isExternal() || !dispatch.getBody().hasOneBlock())
    return std::nullopt;
  auto ret = dyn_cast<func::ReturnOp>(dispatch.getBody().front().getTerminator());
  if (!ret || result >= ret.getNumOperands())
    return std::nullopt;
  Value v = ret.getOperand(result);
  while (auto insert = v.getDefiningOp<tensor::InsertSliceOp>())
    v = insert.getDest();
  auto arg = dyn_cast<BlockArgument>(v);
  if (!arg || v == ret.getOperand(result) || arg.getOwner() != &dispatch.getBody().front())
    return std::nullopt;
  return arg.getArgNumber();
}

FailureOr<Schedule> buildSchedule(func::FuncOp entry) {
  Schedule schedule;
  schedule.entryPoint = entry.getSymName().str();
  StringRef name = entry.getSymName();
  if (entry.isExternal() || !entry.getBody().hasOneBlock())
    return entry.emitError() << "entry point '" << name << "' must have one block";
  Block &block = entry.getBody().front();
  auto ret = cast<func::ReturnOp>(block.getTerminator());
  if (auto dims = entry->getAttrOfType<DictionaryAttr>(kStaticDimsAttr))
    for (NamedAttribute d : dims)
      if (auto size = dyn_cast<IntegerAttr>(d.getValue()))
        schedule.staticDims.emplace_back(d.getName().str(), size.getInt());
  DenseMap<Value, Binding> bindingOf;
  // State buffer -> (its latest value, the dispatch that wrote it in place).
  DenseMap<unsigned, std::pair<Value, std::string>> stateVersion;
  // The whole-buffer value a dispatch operand reads: its source through views, and for a
  // layer of a state buffer the state it is sliced from.
  auto wholeValue = [](Value v) {
    Value source = sourceThroughViews(v);
    if (auto slab = source.getDefiningOp<tensor::ExtractSliceOp>(); slab && isStateSlab(slab))
      return sourceThroughViews(slab.getSource());
    return source;
  };
  // What a dispatch operand binds: its whole buffer, or a layer's bytes of a state buffer.
  auto operandBinding = [&](Value v) -> std::optional<Binding> {
    auto it = bindingOf.find(wholeValue(v));
    if (it == bindingOf.end())
      return std::nullopt;
    Binding binding = it->second;
    if (auto slab = sourceThroughViews(v).getDefiningOp<tensor::ExtractSliceOp>();
        slab && isStateSlab(slab))
      binding.range = layerBytes(slab, slab.getSourceType());
    return binding;
  };

  auto add = [&](Buffer::Kind kind, std::string bufferName, Type type) -> FailureOr<unsigned> {
    if (!isa<RankedTensorType>(type) || !cast<RankedTensorType>(type).hasStaticShape() ||
        !cast<RankedTensorType>(type).getElementType().isIntOrFloat())
      return entry.emitError() << "entry point '" << name << "': buffer '" << bufferName
                               << "' has type " << type
                               << "; expected a static tensor of numbers";
    Buffer &buffer = schedule.buffers.emplace_back();
    buffer.kind = kind;
    buffer.name = std::move(bufferName);
    describe(buffer, type);
    return unsigned(schedule.buffers.size() - 1);
  };

  // Inputs.
  for (BlockArgument arg : block.getArguments()) {
    DictionaryAttr attrs = entry.getArgAttrDict(arg.getArgNumber());
    // Caller-owned state (a KV cache, kiln.state) is read and written in place.
    auto inputName = attrs ? attrs.getAs<StringAttr>("kiln.input") : StringAttr();
    Buffer::Kind kind = Buffer::Input;
    if (!inputName && attrs && (inputName = attrs.getAs<StringAttr>("kiln.state")))
      kind = Buffer::State;
    FailureOr<unsigned> id = add(kind,
                                 inputName ? inputName.str()
                                           : ("arg" + Twine(arg.getArgNumber())).str(),
                                 arg.getType());
    if (failed(id))
      return failure();
    bindingOf[arg] = Binding{*id, std::nullopt};
  }
  // Only calls, views, parameter references, constants and layers of state buffers may remain.
  for (Operation &op : block)
    if (!isa<func::ReturnOp, func::CallOp, ParamRefOp>(&op) && !isView(&op) &&
        !op.hasTrait<OpTrait::ConstantLike>() && !isStateSlab(&op) && !isStateWriteBack(&op))
      return op.emitError() << "entry point '" << name << "' still computes with '"
                            << op.getName() << "' outside a dispatch";
  // Outputs: each returned value must be (a view of) a dispatch result of its own.
  DenseMap<Value, std::string> outputName;
  llvm::DenseSet<Value> stateResults;
  DenseMap<Value, Type> outputType;
  for (auto [i, v] : llvm::enumerate(ret.getOperands())) {
    DictionaryAttr attrs = entry.getResultAttrDict(i);
    auto n = attrs ? attrs.getAs<StringAttr>("kiln.output") : StringAttr();
    if (!n && attrs && (n = attrs.getAs<StringAttr>("kiln.state")))
      stateResults.insert(v);
    std::string outName = n ? n.str() : ("result" + Twine(i)).str();
    Value source = sourceThroughViews(v);
    if (stateResults.contains(v))
      stateResults.insert(source);
    // A state updated one layer at a time is returned as the last layer's write-back.
    bool writtenBack = stateResults.contains(v) && isStateWriteBack(source.getDefiningOp());
    if (!isa_and_nonnull<func::CallOp>(source.getDefiningOp()) && !writtenBack)
      return entry.emitError() << "entry point '" << name << "': output '" << outName
                               << "' is not computed by a dispatch";
    if (!outputName.try_emplace(source, outName).second)
      return entry.emitError() << "entry point '" << name << "': outputs '"
                               << outputName[source] << "' and '" << outName
                               << "' are the same buffer";
    outputType[source] = v.getType();
  }
  for (Operation &op : block) {
    // Layers of state buffers are bound where the dispatches read them.
    if (isa<func::ReturnOp>(&op) || isView(&op) || op.hasTrait<OpTrait::ConstantLike>() ||
        isStateSlab(&op))
      continue;
    if (auto ref = dyn_cast<ParamRefOp>(&op)) {
      FailureOr<unsigned> id = add(Buffer::Parameter, ref.getName().str(), ref.getType());
      if (failed(id))
        return failure();
      bindingOf[ref.getResult()] = Binding{*id, std::nullopt};
      continue;
    }
    if (isStateWriteBack(&op)) {
      // The layer a dispatch just updated in place, in the state's bytes already: the state's
      // new version.
      auto writeBack = cast<tensor::InsertSliceOp>(&op);
      std::optional<Binding> state = operandBinding(writeBack.getDest());
      auto layer = bindingOf.find(writeBack.getSource());
      bool updatedInPlace =
          state && layer != bindingOf.end() &&
          layer->second == Binding{state->buffer, layerBytes(writeBack, writeBack.getDestType())} &&
          stateVersion.lookup(state->buffer).first == writeBack.getSource();
      if (!updatedInPlace)
        return writeBack.emitError()
               << "entry point '" << name << "' puts a layer back into state '"
               << entry.getArgAttrOfType<StringAttr>(
                      stateArgumentOf(writeBack.getDest()).getArgNumber(), "kiln.state")
                      .getValue()
               << "' that no dispatch updated in place there";
      stateVersion[state->buffer].first = writeBack.getResult();
      bindingOf[writeBack.getResult()] = *state;
      continue;
    }
    auto call = cast<func::CallOp>(&op);
    unsigned step = schedule.dispatches.size();
    DispatchStep &d = schedule.dispatches.emplace_back();
    d.dispatch = call.getCallee().str();
    for (Value v : call.getOperands()) {
      std::optional<Binding> binding = operandBinding(v);
      if (!binding)
        return call.emitError() << "operand of dispatch '" << d.dispatch
                                << "' is neither an input, a parameter nor a dispatch result";
      d.operands.push_back(*binding);
      Buffer &buffer = schedule.buffers[binding->buffer];
      if (buffer.kind == Buffer::Temporary)
        buffer.last = std::max(buffer.last, step);
      // In-place state: every read must see the state's latest value.
      auto current = stateVersion.find(binding->buffer);
      if (current != stateVersion.end() && current->second.first != wholeValue(v))
        return call.emitError() << "entry point '" << name << "': dispatch '" << d.dispatch
                                << "' reads state '" << buffer.name << "' after dispatch '"
                                << current->second.second
                                << "' wrote it in place; it would see the new value";
    }
    auto callee = entry->getParentOfType<ModuleOp>()
                      ? entry->getParentOfType<ModuleOp>().lookupSymbol<func::FuncOp>(
                            call.getCallee())
                      : func::FuncOp();
    for (Value r : call.getResults()) {
      // A result updating a state operand in place is that state's buffer, at a new version.
      std::optional<unsigned> tied =
          callee ? tiedOperand(callee, cast<OpResult>(r).getResultNumber()) : std::nullopt;
      if (tied) {
        Binding state = d.operands[*tied];
        if (schedule.buffers[state.buffer].kind == Buffer::State) {
          stateVersion[state.buffer] = {r, d.dispatch};
          bindingOf[r] = state;
          d.results.push_back(state);
          continue;
        }
      }
      auto out = outputName.find(r);
      FailureOr<unsigned> id =
          out != outputName.end()
              ? add(stateResults.contains(r) ? Buffer::State : Buffer::Output, out->second,
                    outputType[r])
              : add(Buffer::Temporary, "t" + std::to_string(schedule.buffers.size()), r.getType());
      if (failed(id))
        return failure();
      Buffer &buffer = schedule.buffers[*id];
      buffer.first = buffer.last = step;
      bindingOf[r] = Binding{*id, std::nullopt};
      d.results.push_back(bindingOf[r]);
    }
  }
  // Temporaries are numbered t0, t1, ... in the order they are produced.
  unsigned next = 0;
  for (Buffer &buffer : schedule.buffers)
    if (buffer.kind == Buffer::Temporary)
      buffer.name = "t" + std::to_string(next++);
  return schedule;
}

int64_t temporaryBytes(const Schedule &schedule) {
  int64_t sum = 0;
  for (const Buffer &buffer : schedule.buffers)
    if (buffer.kind == Buffer::Temporary)
      sum += buffer.bytes;
  return sum;
}

void planArena(Schedule &schedule, int64_t alignment) {
  SmallVector<Buffer *> temps;
  for (Buffer &buffer : schedule.buffers)
    if (buffer.kind == Buffer::Temporary)
      temps.push_back(&buffer);
  // Largest first; among equals, the earliest produced.
  llvm::stable_sort(temps, [](Buffer *a, Buffer *b) {
    return a->bytes != b->bytes ? a->bytes > b->bytes : a->first < b->first;
  });
  SmallVector<Buffer *> placed;
  int64_t arena = 0;
  for (Buffer *t : temps) {
    SmallVector<Buffer *> conflicts;
    for (Buffer *p : placed)
      if (p->first <= t->last && t->first <= p->last)
        conflicts.push_back(p);
    llvm::sort(conflicts, [](Buffer *a, Buffer *b) { return a->offset < b->offset; });
    int64_t offset = 0;
    for (Buffer *p : conflicts) {
      if (offset + t->bytes <= p->offset)
        break;
      offset = std::max(offset, int64_t(llvm::alignTo(p->offset + p->bytes, alignment)));
    }
    t->offset = offset;
    placed.push_back(t);
    arena = std::max<int64_t>(arena, llvm::alignTo(offset + t->bytes, alignment));
  }
  schedule.arenaBytes = arena;
}

std::string scheduleToJson(const Schedule &schedule) {
  // One dispatch and one temporary per line: schedules of whole models stay readable.
  std::string out;
  llvm::raw_string_ostream os(out);
  auto compact = [&](llvm::json::Value v) { os << v; };
  os << "{\"version\": 1, \"entry_point\": ";
  compact(schedule.entryPoint);
  if (!schedule.staticDims.empty()) {
    llvm::json::Object dims;
    for (const auto &[name, size] : schedule.staticDims)
      dims[name] = size;
    os << ", \"static_dims\": ";
    compact(std::move(dims));
  }
  os << ",\n \"dispatches\": [";
  for (auto [i, d] : llvm::enumerate(schedule.dispatches)) {
    llvm::json::Array buffers;
    for (const Binding &binding : llvm::concat<const Binding>(d.operands, d.results)) {
      const Buffer &b = schedule.buffers[binding.buffer];
      llvm::json::Object json{{"kind", kindName(b.kind)}, {"name", b.name}};
      if (binding.range) { // a layer of a state buffer (format 1.3)
        json["kind"] = "state_range";
        json["offset"] = binding.range->offset;
        json["bytes"] = binding.range->bytes;
      }
      buffers.push_back(std::move(json));
    }
    os << (i ? ",\n  " : "\n  ");
    compact(llvm::json::Object{{"dispatch", d.dispatch},
                               {"buffers", std::move(buffers)},
                               {"scalars", llvm::json::Array{}}});
  }
  os << "],\n \"temporaries\": [";
  bool first = true;
  for (const Buffer &b : schedule.buffers) {
    if (b.kind != Buffer::Temporary)
      continue;
    llvm::json::Array shape;
    for (int64_t s : b.shape)
      shape.push_back(s);
    os << (first ? "\n  " : ",\n  ");
    first = false;
    compact(llvm::json::Object{{"name", b.name},
                               {"dtype", b.dtype},
                               {"shape", std::move(shape)},
                               {"bytes", b.bytes},
                               {"first", int64_t(b.first)},
                               {"last", int64_t(b.last)},
                               {"offset", b.offset}});
  }
  os << "],\n \"temporary_bytes\": " << temporaryBytes(schedule)
     << ", \"arena_bytes\": " << schedule.arenaBytes << "}";
  return out;
}

} // namespace kiln::dispatch

namespace {

struct KilnPrintDispatchSchedulePass
    : kiln::impl::KilnPrintDispatchScheduleBase<KilnPrintDispatchSchedulePass> {
  using KilnPrintDispatchScheduleBase::KilnPrintDispatchScheduleBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (alignment <= 0 || !llvm::isPowerOf2_64(alignment)) {
      module.emitError() << "kiln-print-dispatch-schedule: alignment must be a power of two, got "
                         << alignment;
      return signalPassFailure();
    }
    // An entry point with dispatches calls one: after kiln-dedupe-dispatches its calls may all
    // name functions outlined from another entry point, so the dispatch attribute's entry
    // name does not tell.
    auto callsDispatches = [&](func::FuncOp f) {
      return f.walk([&](func::CallOp call) {
                auto callee = module.lookupSymbol<func::FuncOp>(call.getCallee());
                return callee && callee->hasAttr(kiln::dispatch::kDispatchAttr)
                           ? WalkResult::interrupt()
                           : WalkResult::advance();
              }).wasInterrupted();
    };
    for (func::FuncOp f : module.getOps<func::FuncOp>()) {
      bool wanted = entries.empty()
                        ? !f->hasAttr(kiln::dispatch::kDispatchAttr) && callsDispatches(f)
                        : llvm::is_contained(entries, f.getSymName().str());
      if (!wanted)
        continue;
      FailureOr<kiln::dispatch::Schedule> schedule = kiln::dispatch::buildSchedule(f);
      if (failed(schedule))
        return signalPassFailure();
      kiln::dispatch::planArena(*schedule, alignment);
      llvm::outs() << kiln::dispatch::scheduleToJson(*schedule) << "\n";
    }
  }
};

} // namespace
