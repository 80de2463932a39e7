//===- HAL.cpp - Driver-independent parts of the HAL ----------------------===//
#include "kiln/rt/hal/HAL.h"

namespace kiln::rt::hal {

int Executable::find(std::string_view name) const {
  for (size_t i = 0; i < dispatches_.size(); ++i)
    if (dispatches_[i].name == name)
      return static_cast<int>(i);
  return -1;
}

Status validateDispatch(const DispatchInfo &info, const DispatchParams &params) {
  auto fail = [&](const std::string &what) {
    return Status(StatusCode::InvalidArgument, "dispatch '" + info.name + "': " + what);
  };
  if (params.buffers.size() != info.numBuffers)
    return fail("expects " + std::to_string(info.numBuffers) + " buffer bindings, got " +
                std::to_string(params.buffers.size()));
  if (params.scalars.size() != info.numScalars)
    return fail("expects " + std::to_string(info.numScalars) + " scalars, got " +
                std::to_string(params.scalars.size()));
  for (size_t i = 0; i < params.buffers.size(); ++i) {
    const BufferBinding &b = params.buffers[i];
    if (!b.buffer)
      return fail("binding " + std::to_string(i) + " has no buffer");
    if (b.offset > b.buffer->size())
      return fail("binding " + std::to_string(i) + " starts at byte " +
                  std::to_string(b.offset) + " past the end of its " +
                  std::to_string(b.buffer->size()) + "-byte buffer");
    size_t available = b.buffer->size() - b.offset;
    size_t length = b.length == SIZE_MAX ? available : b.length;
    if (length > available)
      return fail("binding " + std::to_string(i) + " range [" + std::to_string(b.offset) +
                  ", +" + std::to_string(length) + ") exceeds its " +
                  std::to_string(b.buffer->size()) + "-byte buffer");
    if (i < info.bufferBytes.size() && length < info.bufferBytes[i])
      return fail("binding " + std::to_string(i) + " has " + std::to_string(length) +
                  " bytes; the dispatch reads or writes " + std::to_string(info.bufferBytes[i]));
  }
  uint64_t count = uint64_t(params.workgroups[0]) * params.workgroups[1] * params.workgroups[2];
  if (count > UINT32_MAX)
    return fail("workgroup count " + std::to_string(count) + " exceeds 2^32-1");
  return Status::ok();
}

} // namespace kiln::rt::hal
