//===- Status.h - Result of a HAL operation -------------------------------===//
#ifndef KILN_RT_HAL_STATUS_H
#define KILN_RT_HAL_STATUS_H

#include <string>
#include <utility>

namespace kiln::rt::hal {

/// Error categories of the HAL; the message says what and where.
enum class StatusCode {
  Ok = 0,
  InvalidArgument, // a caller passed something inconsistent (binding count, sizes)
  InvalidCode,     // a code blob is malformed or not for this device
  OutOfMemory,
  Unavailable,     // the device or an OS facility is missing
  Internal,
};

/// A status: Ok, or a code with a message. HAL calls never abort the process.
class Status {
public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status ok() { return Status(); }

  bool isOk() const { return code_ == StatusCode::Ok; }
  explicit operator bool() const { return isOk(); }
  StatusCode code() const { return code_; }
  const std::string &message() const { return message_; }

private:
  StatusCode code_ = StatusCode::Ok;
  std::string message_;
};

} // namespace kiln::rt::hal

#endif // KILN_RT_HAL_STATUS_H
