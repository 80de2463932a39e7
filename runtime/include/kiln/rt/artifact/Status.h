//===- Status.h - Error reporting without exceptions ------------*- C++ -*-===//
//
// The result of an operation that can fail on bad input: a code and a message that names the file
// and the problem. Public runtime headers return Status rather than throwing, so that code built
// with -fno-exceptions (the compiler) can call them.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RT_ARTIFACT_STATUS_H
#define KILN_RT_ARTIFACT_STATUS_H

#include <string>
#include <utility>

namespace kiln::rt {

class [[nodiscard]] Status {
public:
  enum class Code {
    Ok,
    InvalidInput, ///< malformed, truncated or inconsistent data
    IoError,      ///< the operating system refused (open, read, write, rename ...)
    Unsupported,  ///< well-formed but not something this build can handle
  };

  Status() = default;
  static Status success() { return Status(); }
  static Status invalid(std::string message) {
    return Status(Code::InvalidInput, std::move(message));
  }
  static Status ioError(std::string message) {
    return Status(Code::IoError, std::move(message));
  }
  static Status unsupported(std::string message) {
    return Status(Code::Unsupported, std::move(message));
  }

  bool ok() const { return code_ == Code::Ok; }
  Code code() const { return code_; }
  const std::string &message() const { return message_; }

private:
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  Code code_ = Code::Ok;
  std::string message_;
};

} // namespace kiln::rt

#endif // KILN_RT_ARTIFACT_STATUS_H
