//===- Schedule.cpp - The schedule section reader -------------------------===//
//
// docs/artifact.md, "Schedules". Every check runs when the artifact is loaded, so a bad
// schedule is refused before any dispatch runs: names and buffer counts against the code,
// bindings against the entry point and the parameter table, temporaries against the arena (in
// bounds, aligned to their element size, never sharing bytes while both are live) and against
// the dispatches that use them, and byte ranges of state buffers against the state's size and
// the dispatch's code.
//
//===----------------------------------------------------------------------===//
#include "kiln/rt/exec/Schedule.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <limits>
#include <map>

namespace kiln::rt::exec {

namespace {

bool isCount(const nlohmann::json &j) { return j.is_number_unsigned(); }

template <typename List> bool hasName(const List &list, const std::string &name) {
  for (const auto &x : list)
    if (x.name == name)
      return true;
  return false;
}

/// The bytes of state `sig` at the sizes the entry point was compiled for; nullopt when a size
/// of its shape is not among them (or the product overflows).
std::optional<uint64_t> staticBytes(const TensorSignature &sig,
                                    const std::vector<std::pair<std::string, int64_t>> &dims) {
  uint64_t bytes = dtypeSize(sig.dtype);
  for (const Dim &d : sig.shape) {
    auto it =
        std::find_if(dims.begin(), dims.end(), [&](const auto &p) { return p.first == d.symbol; });
    if (d.isSymbolic() && it == dims.end())
      return std::nullopt;
    if (__builtin_mul_overflow(bytes, uint64_t(d.isSymbolic() ? it->second : d.size), &bytes))
      return std::nullopt;
  }
  return bytes;
}

/// Checks the bytes a `state_range` binding `b` (since 1.3) binds of state `sig` and stores them
/// in `ref`: aligned to the element size, within the state at the entry point's static sizes,
/// and at least the `needed` bytes the dispatch's code reads or writes (0: unknown). Returns
/// why not, or nothing.
std::string readStateRange(const nlohmann::json &b, const TensorSignature &sig,
                           const std::vector<std::pair<std::string, int64_t>> &dims,
                           uint64_t needed, BufferRef &ref) {
  std::string what = "state '" + sig.name + "'";
  if (!b.contains("offset") || !b.contains("bytes") || !isCount(b["offset"]) ||
      !isCount(b["bytes"]))
    return "binds a range of " + what + " without a byte offset and size";
  ByteRange range{b["offset"].get<uint64_t>(), b["bytes"].get<uint64_t>()};
  std::optional<uint64_t> size = staticBytes(sig, dims);
  if (!size)
    return "binds a range of " + what + ", whose size static_dims does not give";
  std::string at = " bytes at offset " + std::to_string(range.offset);
  if (range.offset % dtypeSize(sig.dtype) != 0)
    return "binds " + what + " at offset " + std::to_string(range.offset) +
           ", not aligned to its " + std::to_string(dtypeSize(sig.dtype)) + "-byte elements";
  if (range.offset > *size || range.bytes > *size - range.offset)
    return "binds " + std::to_string(range.bytes) + at + " of " + what + ", outside its " +
           std::to_string(*size) + " bytes";
  if (range.bytes < needed)
    return "binds " + std::to_string(range.bytes) + at + " of " + what + "; its code needs " +
           std::to_string(needed);
  ref.range = range;
  return {};
}

} // namespace

Status parseSchedule(std::string_view text, std::string_view what, const EntryPoint &entry,
                     const Manifest &manifest, const std::vector<hal::DispatchInfo> &code,
                     Schedule &out) {
  auto bad = [&](const std::string &why) {
    return Status::invalid(std::string(what) + ": invalid schedule: " + why);
  };
  out = Schedule();
  nlohmann::json j = nlohmann::json::parse(text.begin(), text.end(), nullptr,
                                           /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object())
    return bad("not a JSON object");
  if (!j.contains("version") || j["version"] != 1)
    return bad("unsupported version (this kiln reads version 1)");
  if (!j.contains("dispatches") || !j["dispatches"].is_array() || j["dispatches"].empty())
    return bad("no dispatches");
  size_t numDispatches = j["dispatches"].size();

  // Static sizes.
  if (j.contains("static_dims")) {
    const nlohmann::json &dims = j["static_dims"];
    if (!dims.is_object())
      return bad("static_dims must be an object of sizes");
    for (const auto &[name, size] : dims.items()) {
      bool known = false;
      for (const TensorSignature &sig : entry.inputs)
        for (const Dim &d : sig.shape)
          known |= d.isSymbolic() && d.symbol == name;
      if (!known)
        return bad("static_dims names '" + name + "', which is not a size of entry point '" +
                   entry.name + "'");
      if (!isCount(size) || size.get<uint64_t>() == 0 ||
          size.get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max()))
        return bad("static_dims: '" + name + "' must be a positive size");
      out.staticDims.emplace_back(name, size.get<int64_t>());
    }
  }

  // Temporaries and their arena.
  std::map<std::string, int, std::less<>> tempIndex;
  bool hasTemporaries = j.contains("temporaries");
  if (hasTemporaries != j.contains("arena_bytes"))
    return bad("temporaries and arena_bytes come together");
  if (hasTemporaries) {
    if (!isCount(j["arena_bytes"]))
      return bad("arena_bytes must be a byte count");
    out.arenaBytes = j["arena_bytes"].get<uint64_t>();
    if (!j["temporaries"].is_array())
      return bad("temporaries must be a list");
    for (const nlohmann::json &t : j["temporaries"]) {
      if (!t.is_object() || !t.contains("name") || !t["name"].is_string())
        return bad("a temporary without a name");
      Temporary &temp = out.temporaries.emplace_back();
      temp.name = t["name"].get<std::string>();
      auto badTemp = [&](const std::string &why) {
        return bad("temporary '" + temp.name + "': " + why);
      };
      if (!tempIndex.emplace(temp.name, int(out.temporaries.size() - 1)).second)
        return badTemp("declared twice");
      for (const char *key : {"bytes", "first", "last", "offset"})
        if (!t.contains(key) || !isCount(t[key]))
          return badTemp(std::string(key) + " must be a non-negative integer");
      if (!t.contains("dtype") || !t["dtype"].is_string() ||
          !parseDType(t["dtype"].get<std::string>(), temp.dtype))
        return badTemp("unknown dtype");
      if (!t.contains("shape") || !t["shape"].is_array())
        return badTemp("shape must be a list of sizes");
      uint64_t elements = 1;
      for (const nlohmann::json &s : t["shape"]) {
        if (!isCount(s) || s.get<uint64_t>() > uint64_t(std::numeric_limits<int32_t>::max()))
          return badTemp("shape must be a list of sizes");
        uint64_t size = s.get<uint64_t>();
        if (size != 0 && elements > (uint64_t(1) << 48) / size)
          return badTemp("shape is too large");
        elements *= size;
        temp.shape.push_back(int64_t(size));
      }
      temp.bytes = t["bytes"].get<uint64_t>();
      if (temp.bytes != elements * dtypeSize(temp.dtype))
        return badTemp("bytes = " + std::to_string(temp.bytes) + " does not match its shape (" +
                       std::to_string(elements * dtypeSize(temp.dtype)) + ")");
      uint64_t first = t["first"].get<uint64_t>(), last = t["last"].get<uint64_t>();
      if (first > last || last >= numDispatches)
        return badTemp("live range [" + std::to_string(first) + ", " + std::to_string(last) +
                       "] is not within the " + std::to_string(numDispatches) + " dispatches");
      temp.first = uint32_t(first);
      temp.last = uint32_t(last);
      temp.offset = t["offset"].get<uint64_t>();
      if (temp.offset % dtypeSize(temp.dtype) != 0)
        return badTemp("offset " + std::to_string(temp.offset) + " is not aligned to its " +
                       std::to_string(dtypeSize(temp.dtype)) + "-byte elements");
      if (temp.offset > out.arenaBytes || temp.bytes > out.arenaBytes - temp.offset)
        return badTemp("offset " + std::to_string(temp.offset) + " + " +
                       std::to_string(temp.bytes) + " bytes is outside the arena of " +
                       std::to_string(out.arenaBytes) + " bytes");
    }
    // Temporaries live at the same time never share bytes.
    for (size_t a = 0; a < out.temporaries.size(); ++a)
      for (size_t b = a + 1; b < out.temporaries.size(); ++b) {
        const Temporary &x = out.temporaries[a], &y = out.temporaries[b];
        bool live = x.first <= y.last && y.first <= x.last;
        bool overlap = x.offset < y.offset + y.bytes && y.offset < x.offset + x.bytes;
        if (live && overlap && x.bytes && y.bytes)
          return bad("temporaries '" + x.name + "' and '" + y.name +
                     "' share arena bytes while both are live");
      }
  }

  for (size_t di = 0; di < numDispatches; ++di) {
    const nlohmann::json &d = j["dispatches"][di];
    Dispatch &dispatch = out.dispatches.emplace_back();
    if (!d.is_object() || !d.contains("dispatch") || !d["dispatch"].is_string())
      return bad("a dispatch without a name");
    dispatch.name = d["dispatch"].get<std::string>();
    for (size_t i = 0; i < code.size() && dispatch.index < 0; ++i)
      if (code[i].name == dispatch.name)
        dispatch.index = int(i);
    if (dispatch.index < 0)
      return bad("dispatch '" + dispatch.name + "' is not in the code section");
    const hal::DispatchInfo &info = code[dispatch.index];
    if (!d.contains("workgroups") || !d["workgroups"].is_array() || d["workgroups"].size() != 3)
      return bad("dispatch '" + dispatch.name + "': workgroups must be [x, y, z]");
    uint64_t total = 1;
    for (int i = 0; i < 3; ++i) {
      const nlohmann::json &w = d["workgroups"][i];
      if (!w.is_number_unsigned() || w.get<uint64_t>() == 0 || w.get<uint64_t>() > UINT32_MAX)
        return bad("dispatch '" + dispatch.name + "': bad workgroup count");
      dispatch.workgroups[i] = w.get<uint32_t>();
      total *= dispatch.workgroups[i];
      if (total > UINT32_MAX)
        return bad("dispatch '" + dispatch.name + "': more than 2^32 - 1 workgroups");
    }
    if (!d.contains("buffers") || !d["buffers"].is_array())
      return bad("dispatch '" + dispatch.name + "' has no buffer list");
    for (const nlohmann::json &b : d["buffers"]) {
      if (!b.is_object() || !b.contains("kind") || !b["kind"].is_string() || !b.contains("name") ||
          !b["name"].is_string())
        return bad("dispatch '" + dispatch.name + "': a buffer needs a kind and a name");
      std::string kind = b["kind"].get<std::string>(), name = b["name"].get<std::string>();
      if (kind != "state_range" && (b.contains("offset") || b.contains("bytes")))
        return bad("dispatch '" + dispatch.name + "' binds " + kind + " '" + name +
                   "' with offset and bytes, which only a state_range has");
      BufferRef ref;
      ref.name = name;
      if (kind == "input" && hasName(entry.inputs, name)) {
        ref.kind = BufferRef::Input;
      } else if (kind == "output" && hasName(entry.outputs, name)) {
        ref.kind = BufferRef::Output;
      } else if (kind == "parameter" && hasName(manifest.parameters, name)) {
        ref.kind = BufferRef::Parameter;
      } else if (kind == "state" && hasName(entry.state, name)) {
        ref.kind = BufferRef::State;
      } else if (kind == "state_range" && hasName(entry.state, name)) {
        ref.kind = BufferRef::State;
        const TensorSignature &sig =
            *std::find_if(entry.state.begin(), entry.state.end(),
                          [&](const TensorSignature &s) { return s.name == name; });
        size_t slot = dispatch.buffers.size();
        uint64_t needed = slot < info.bufferBytes.size() ? info.bufferBytes[slot] : 0;
        if (std::string why = readStateRange(b, sig, out.staticDims, needed, ref); !why.empty())
          return bad("dispatch '" + dispatch.name + "' " + why);
      } else if (kind == "temporary" && tempIndex.count(name)) {
        ref.kind = BufferRef::Temporary;
        ref.temporary = tempIndex.find(name)->second;
        const Temporary &temp = out.temporaries[ref.temporary];
        if (di < temp.first || di > temp.last)
          return bad("dispatch " + std::to_string(di) + " '" + dispatch.name +
                     "' binds temporary '" + name + "' outside its live range [" +
                     std::to_string(temp.first) + ", " + std::to_string(temp.last) + "]");
        size_t slot = dispatch.buffers.size();
        if (slot < info.bufferBytes.size() && temp.bytes < info.bufferBytes[slot])
          return bad("dispatch '" + dispatch.name + "' binds temporary '" + name + "' of " +
                     std::to_string(temp.bytes) + " bytes; its code needs " +
                     std::to_string(info.bufferBytes[slot]));
      } else {
        return bad("dispatch '" + dispatch.name + "' binds unknown " + kind + " '" + name + "'");
      }
      dispatch.buffers.push_back(std::move(ref));
    }
    if (!d.contains("scalars") || !d["scalars"].is_array())
      return bad("dispatch '" + dispatch.name + "' has no scalar list");
    for (const nlohmann::json &s : d["scalars"]) {
      if (!s.is_string())
        return bad("dispatch '" + dispatch.name + "': scalars are symbol names");
      dispatch.scalars.push_back(s.get<std::string>());
    }
    if (dispatch.buffers.size() != info.numBuffers || dispatch.scalars.size() != info.numScalars)
      return bad("dispatch '" + dispatch.name + "' binds " +
                 std::to_string(dispatch.buffers.size()) + " buffers and " +
                 std::to_string(dispatch.scalars.size()) + " scalars; its code takes " +
                 std::to_string(info.numBuffers) + " and " + std::to_string(info.numScalars));
  }
  return Status::success();
}

} // namespace kiln::rt::exec
