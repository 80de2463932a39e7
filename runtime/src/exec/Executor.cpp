//===- Executor.cpp - Runs an artifact's entry points ---------------------===//
//
// An entry point's schedule (docs/artifact.md, "Schedules") lists its dispatches; each names
// the buffers it binds (an input, a parameter, an output of the entry point or a temporary in
// the entry point's arena) and the symbolic sizes it receives as scalars. The executor binds
// the symbols from the inputs' shapes (refusing sizes other than the schedule's static_dims),
// allocates the outputs, and replays the dispatches through the HAL, each over its workgroups.
//
//===----------------------------------------------------------------------===//
#include "kiln/rt/exec/Executor.h"

#include "ExecutorImpl.h"

#include "kiln/rt/artifact/Artifact.h"
#include "kiln/rt/cpu/CPUDevice.h"
#include "kiln/rt/cpu/CPUFeatures.h"
#include "kiln/rt/hal/HAL.h"
#include "kiln/rt/weights/Weights.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>
#include <ctime>
#include <limits>
#include <map>

namespace kiln::rt::exec {

int64_t Tensor::numElements() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

Tensor Tensor::fromI32(std::vector<int64_t> shape, const std::vector<int32_t> &values) {
  Tensor t;
  t.dtype = DType::I32;
  t.shape = std::move(shape);
  t.bytes.resize(values.size() * sizeof(int32_t));
  if (!values.empty())
    std::memcpy(t.bytes.data(), values.data(), t.bytes.size());
  return t;
}

namespace {

constexpr const char *kCPUTarget = "cpu-x86_64";

std::string shapeText(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

/// `name` with each dot-delimited all-digit component (a layer index) replaced by '*'.
std::string layerPattern(const std::string &name) {
  std::string out;
  size_t pos = 0;
  while (pos <= name.size()) {
    size_t dot = name.find('.', pos);
    std::string part = name.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos);
    bool digits = !part.empty();
    for (char c : part)
      digits &= std::isdigit(static_cast<unsigned char>(c)) != 0;
    out += digits ? "*" : part;
    if (dot == std::string::npos)
      break;
    out += '.';
    pos = dot + 1;
  }
  return out;
}

uint64_t threadCpuNanoseconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return uint64_t(t.tv_sec) * 1000000000u + uint64_t(t.tv_nsec);
}

uint64_t nanosecondsSince(std::chrono::steady_clock::time_point start) {
  return uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count());
}

} // namespace

void DispatchProfile::clear() {
  for (Entry &e : entries) {
    e.calls = 0;
    e.nanoseconds = 0;
    e.callerCpuNanoseconds = 0;
    e.parameterBytes = 0;
    e.workgroups = 0;
  }
  replays = 0;
  replayNanoseconds = 0;
}

void Executor::setProfile(DispatchProfile *profile) {
  Impl &m = *impl_;
  m.profile = profile;
  if (!profile)
    return;
  const std::vector<hal::DispatchInfo> &code = m.executable->dispatches();
  profile->entries.resize(code.size());
  for (size_t i = 0; i < code.size(); ++i)
    profile->entries[i].name = code[i].name;
}

Executor::Executor() : impl_(std::make_unique<Impl>()) {}
Executor::~Executor() = default;

const Manifest &Executor::manifest() const { return impl_->artifact.manifest(); }
unsigned Executor::threads() const { return impl_->device->info().threads; }
Executor::TemporaryMemory Executor::temporaryMemory() const {
  hal::DeviceInfo info = impl_->device->info();
  return {info.temporaryBlocks, info.temporaryBytes};
}

Status Executor::create(const std::string &artifactPath, const std::string &weightsPath,
                        const ExecutorOptions &options, std::unique_ptr<Executor> &out) {
  std::unique_ptr<Executor> ex(new Executor());
  Impl &m = *ex->impl_;
  m.path = artifactPath;
  if (Status s = Artifact::open(artifactPath, m.artifact); !s.ok())
    return s;
  const Manifest &manifest = m.artifact.manifest();
  const Target *target = nullptr;
  for (const Target &t : manifest.targets)
    if (t.name == kCPUTarget)
      target = &t;
  if (!target)
    return Status::unsupported(artifactPath + ": the artifact has no " + kCPUTarget +
                               " code (compile it with kilnc --target=cpu)");
  // Before anything is loaded: code for extensions this CPU lacks would die of SIGILL.
  if (Status s = cpu::checkHostCPUFeatures(target->cpuFeatures, cpu::hostHasCPUFeature,
                                           target->cpu, artifactPath);
      !s.ok())
    return s;
  if (Status s = checkParameterDTypes(manifest, artifactPath); !s.ok())
    return s;
  if (Status s = WeightSet::load(manifest, weightsPath, m.weights); !s.ok())
    return s;

  cpu::CPUDeviceOptions deviceOptions;
  deviceOptions.threads = options.threads;
  deviceOptions.hostServices = options.hostServices;
  if (hal::Status s = cpu::createCPUDevice(deviceOptions, m.device); !s)
    return Status::invalid("cannot create the CPU device: " + s.message());
  const SectionInfo *code = m.artifact.findSection(target->codeSection);
  if (!code)
    return Status::invalid(artifactPath + ": missing code section '" + target->codeSection + "'");
  if (hal::Status s = m.device->loadExecutable(m.artifact.sectionData(*code), code->size,
                                               artifactPath + ":" + target->codeSection,
                                               m.executable);
      !s)
    return Status::invalid(s.message());

  for (size_t i = 0; i < m.weights.size(); ++i) {
    const Parameter &p = m.weights.parameter(i);
    std::unique_ptr<hal::Buffer> buffer;
    // Parameters are only read by dispatches, in their table dtype (f32, bf16 or i8).
    if (hal::Status s = m.device->wrapHostMemory(const_cast<void *>(m.weights.bytes(i)),
                                                 m.weights.byteSize(i), buffer);
        !s)
      return Status::invalid("parameter '" + p.name + "': " + s.message());
    m.params.emplace(p.name, std::move(buffer));
  }

  for (const EntryPoint &e : manifest.entryPoints)
    for (const auto &[targetName, section] : e.schedules) {
      if (targetName != kCPUTarget)
        continue;
      const SectionInfo *info = m.artifact.findSection(section);
      if (!info)
        return Status::invalid(artifactPath + ": missing schedule section '" + section + "'");
      const char *bytes = reinterpret_cast<const char *>(m.artifact.sectionData(*info));
      Schedule schedule;
      if (Status s = parseSchedule(std::string_view(bytes, info->size),
                                   artifactPath + ":" + section, e, manifest,
                                   m.executable->dispatches(), schedule);
          !s.ok())
        return s;
      if (!schedule.temporaries.empty()) {
        std::unique_ptr<hal::Buffer> arena;
        if (hal::Status s = m.device->allocateBuffer(std::max<uint64_t>(schedule.arenaBytes, 1),
                                                     arena);
            !s)
          return Status::invalid(artifactPath + ": entry point '" + e.name + "': cannot allocate " +
                                 std::to_string(schedule.arenaBytes) + " bytes of temporaries: " +
                                 s.message());
        m.arenas.emplace(e.name, std::move(arena));
      }
      m.schedules.emplace(e.name, std::move(schedule));
    }
  out = std::move(ex);
  return Status::success();
}

Status Executor::run(std::string_view entryName, const std::vector<NamedTensor> &inputs,
                     std::vector<NamedTensor> &outputs) {
  Impl &m = *impl_;
  const Manifest &manifest = m.artifact.manifest();
  const EntryPoint *entry = nullptr;
  for (const EntryPoint &e : manifest.entryPoints)
    if (e.name == entryName)
      entry = &e;
  if (!entry)
    return Status::invalid(m.path + ": the model has no entry point '" + std::string(entryName) +
                           "'");
  auto sched = m.schedules.find(entryName);
  if (sched == m.schedules.end())
    return Status::unsupported(m.path + ": entry point '" + entry->name +
                               "' has no CPU code yet");
  if (!entry->state.empty())
    return Status::invalid(m.path + ": entry point '" + entry->name +
                           "' keeps state (a KV cache) between calls; run it through a "
                           "DecoderSession");

  // Inputs: every signature input, by name; symbols bound from their shapes.
  std::map<std::string, int64_t, std::less<>> symbols;
  std::map<std::string, const Tensor *, std::less<>> given;
  for (const NamedTensor &t : inputs) {
    bool known = false;
    for (const TensorSignature &sig : entry->inputs)
      known |= sig.name == t.name;
    if (!known)
      return Status::invalid("entry point '" + entry->name + "' has no input '" + t.name + "'");
    if (!given.emplace(t.name, &t.tensor).second)
      return Status::invalid("input '" + t.name + "' is given twice");
  }
  for (const TensorSignature &sig : entry->inputs) {
    auto it = given.find(sig.name);
    if (it == given.end())
      return Status::invalid("entry point '" + entry->name + "' needs input '" + sig.name + "'");
    const Tensor &t = *it->second;
    if (t.dtype != sig.dtype)
      return Status::invalid("input '" + sig.name + "' must be " + dtypeName(sig.dtype) +
                             ", got " + dtypeName(t.dtype));
    if (t.shape.size() != sig.shape.size())
      return Status::invalid("input '" + sig.name + "' must have rank " +
                             std::to_string(sig.shape.size()) + ", got shape " +
                             shapeText(t.shape));
    if (t.bytes.size() != size_t(t.numElements()) * dtypeSize(t.dtype))
      return Status::invalid("input '" + sig.name + "': data size does not match its shape");
    for (size_t d = 0; d < sig.shape.size(); ++d) {
      const Dim &dim = sig.shape[d];
      int64_t size = t.shape[d];
      if (size <= 0)
        return Status::invalid("input '" + sig.name + "' has an empty dimension " +
                               shapeText(t.shape));
      if (!dim.isSymbolic()) {
        if (size != dim.size)
          return Status::invalid("input '" + sig.name + "' dimension " + std::to_string(d) +
                                 " must be " + std::to_string(dim.size) + ", got " +
                                 std::to_string(size));
        continue;
      }
      auto [slot, inserted] = symbols.emplace(dim.symbol, size);
      if (!inserted && slot->second != size)
        return Status::invalid("input '" + sig.name + "' gives " + dim.symbol + " = " +
                               std::to_string(size) + ", another input gave " +
                               std::to_string(slot->second));
    }
  }

  // An entry point compiled for static sizes (kilnc --specialize) runs only those.
  for (const auto &[symbol, size] : sched->second.staticDims) {
    auto it = symbols.find(symbol);
    if (it != symbols.end() && it->second != size)
      return Status::invalid(m.path + ": entry point '" + entry->name + "' was compiled for " +
                             symbol + " = " + std::to_string(size) + " (kilnc --specialize); " +
                             "the inputs give " + symbol + " = " + std::to_string(it->second));
  }

  // Outputs: shapes from the symbols.
  std::vector<std::unique_ptr<hal::Buffer>> outBuffers;
  std::map<std::string, size_t, std::less<>> outIndex;
  outputs.clear();
  for (const TensorSignature &sig : entry->outputs) {
    NamedTensor &o = outputs.emplace_back();
    o.name = sig.name;
    o.tensor.dtype = sig.dtype;
    for (const Dim &dim : sig.shape) {
      if (!dim.isSymbolic()) {
        o.tensor.shape.push_back(dim.size);
        continue;
      }
      auto it = symbols.find(dim.symbol);
      if (it == symbols.end())
        return Status::unsupported("output '" + sig.name + "' has size '" + dim.symbol +
                                   "', which no input determines");
      o.tensor.shape.push_back(it->second);
    }
    size_t bytes = size_t(o.tensor.numElements()) * dtypeSize(sig.dtype);
    std::unique_ptr<hal::Buffer> buffer;
    if (hal::Status s = m.device->allocateBuffer(std::max<size_t>(bytes, 1), buffer); !s)
      return Status::invalid("output '" + sig.name + "': " + s.message());
    outIndex[sig.name] = outBuffers.size();
    outBuffers.push_back(std::move(buffer));
  }

  // Inputs are wrapped in place (dispatches only read them).
  std::map<std::string, std::unique_ptr<hal::Buffer>, std::less<>> inBuffers;
  for (const auto &[name, tensor] : given) {
    std::unique_ptr<hal::Buffer> buffer;
    if (hal::Status s = m.device->wrapHostMemory(const_cast<uint8_t *>(tensor->bytes.data()),
                                                 tensor->bytes.size(), buffer);
        !s)
      return Status::invalid("input '" + name + "': " + s.message());
    inBuffers.emplace(name, std::move(buffer));
  }

  BoundSchedule bound;
  auto entryBuffer = [&](const BufferRef &ref, hal::Buffer *&buffer) -> Status {
    switch (ref.kind) {
    case BufferRef::Input:
      buffer = inBuffers.at(ref.name).get();
      return Status::success();
    case BufferRef::Output:
      buffer = outBuffers[outIndex.at(ref.name)].get();
      return Status::success();
    default:
      return Status::invalid(m.path + ": entry point '" + entry->name + "' binds state '" +
                             ref.name + "' outside a session");
    }
  };
  auto symbol = [&](size_t di, size_t, const std::string &name, int64_t &value) -> Status {
    auto it = symbols.find(name);
    if (it == symbols.end())
      return Status::unsupported("dispatch '" + sched->second.dispatches[di].name +
                                 "' needs size '" + name + "', which no input determines");
    value = it->second;
    return Status::success();
  };
  if (Status s = m.bindSchedule(entry->name, entryBuffer, symbol, bound); !s.ok())
    return s;
  if (Status s = m.replay(bound); !s.ok())
    return s;

  for (NamedTensor &o : outputs) {
    hal::Buffer &buffer = *outBuffers[outIndex.at(o.name)];
    size_t bytes = size_t(o.tensor.numElements()) * dtypeSize(o.tensor.dtype);
    o.tensor.bytes.resize(bytes);
    if (bytes != 0)
      std::memcpy(o.tensor.bytes.data(), buffer.hostPointer(), bytes);
  }
  return Status::success();
}

Status Executor::Impl::bindSchedule(const std::string &entry, const EntryBufferFn &entryBuffer,
                                    const SymbolFn &symbol, BoundSchedule &out) {
  const Schedule &schedule = schedules.at(entry);
  out.schedule = &schedule;
  out.bindings.clear();
  out.scalars.clear();
  for (size_t di = 0; di < schedule.dispatches.size(); ++di) {
    const Dispatch &d = schedule.dispatches[di];
    std::vector<hal::BufferBinding> &bindings = out.bindings.emplace_back();
    for (const BufferRef &ref : d.buffers) {
      hal::BufferBinding b;
      if (ref.kind == BufferRef::Parameter) {
        b.buffer = params.at(ref.name).get();
      } else if (ref.kind == BufferRef::Temporary) {
        const Temporary &temp = schedule.temporaries[ref.temporary];
        b.buffer = arenas.at(entry).get();
        b.offset = size_t(temp.offset);
        b.length = size_t(temp.bytes);
      } else if (Status s = entryBuffer(ref, b.buffer); !s.ok()) {
        return s;
      }
      if (ref.range) { // one layer of a state buffer
        b.offset = size_t(ref.range->offset);
        b.length = size_t(ref.range->bytes);
      }
      bindings.push_back(b);
    }
    std::vector<int64_t> &scalars = out.scalars.emplace_back(d.scalars.size());
    for (size_t si = 0; si < d.scalars.size(); ++si)
      if (Status s = symbol(di, si, d.scalars[si], scalars[si]); !s.ok())
        return s;
  }
  return Status::success();
}

/// The HAL parameters of dispatch `i` of a bound schedule.
static hal::DispatchParams dispatchParams(const BoundSchedule &bound, size_t i) {
  hal::DispatchParams params;
  params.buffers =
      hal::Span<const hal::BufferBinding>(bound.bindings[i].data(), bound.bindings[i].size());
  params.scalars = hal::Span<const int64_t>(bound.scalars[i].data(), bound.scalars[i].size());
  params.workgroups = bound.schedule->dispatches[i].workgroups;
  return params;
}

Status Executor::Impl::replay(const BoundSchedule &bound, size_t count) {
  const std::vector<Dispatch> &dispatches = bound.schedule->dispatches;
  count = std::min(count, dispatches.size());
  if (profile)
    return replayProfiled(bound, count);
  for (size_t i = 0; i < count; ++i) {
    const Dispatch &d = dispatches[i];
    hal::DispatchParams params = dispatchParams(bound, i);
    if (hal::Status s = device->dispatch(*executable, uint32_t(d.index), params); !s)
      return Status::invalid(path + ": dispatch '" + d.name + "': " + s.message());
  }
  if (hal::Status s = device->synchronize(); !s)
    return Status::invalid(path + ": " + s.message());
  return Status::success();
}

Status Executor::Impl::replayProfiled(const BoundSchedule &bound, size_t count) {
  using Clock = std::chrono::steady_clock;
  const std::vector<Dispatch> &dispatches = bound.schedule->dispatches;
  auto replayStart = Clock::now();
  for (size_t i = 0; i < count; ++i) {
    const Dispatch &d = dispatches[i];
    hal::DispatchParams params = dispatchParams(bound, i);
    uint64_t cpuStart = threadCpuNanoseconds();
    auto start = Clock::now();
    hal::Status s = device->dispatch(*executable, uint32_t(d.index), params);
    uint64_t elapsed = nanosecondsSince(start);
    uint64_t cpu = threadCpuNanoseconds() - cpuStart;
    if (!s)
      return Status::invalid(path + ": dispatch '" + d.name + "': " + s.message());
    if (size_t(d.index) >= profile->entries.size())
      continue;
    DispatchProfile::Entry &e = profile->entries[size_t(d.index)];
    if (e.reads.empty()) {
      const BufferRef *first = nullptr;
      for (auto kind : {BufferRef::Parameter, BufferRef::State})
        for (const BufferRef &ref : d.buffers)
          if (ref.kind == kind && !first)
            first = &ref;
      if (!first && !d.buffers.empty())
        first = &d.buffers.front();
      if (first)
        e.reads = layerPattern(first->kind == BufferRef::Temporary
                                   ? bound.schedule->temporaries[size_t(first->temporary)].name
                                   : first->name);
    }
    for (size_t b = 0; b < d.buffers.size(); ++b)
      if (d.buffers[b].kind == BufferRef::Parameter)
        e.parameterBytes += bound.bindings[i][b].buffer->size();
    e.calls += 1;
    e.nanoseconds += elapsed;
    e.callerCpuNanoseconds += cpu;
    e.workgroups += uint64_t(d.workgroups[0]) * d.workgroups[1] * d.workgroups[2];
  }
  if (hal::Status s = device->synchronize(); !s)
    return Status::invalid(path + ": " + s.message());
  profile->replays += 1;
  profile->replayNanoseconds += nanosecondsSince(replayStart);
  return Status::success();
}

} // namespace kiln::rt::exec
