//===- WriteAll.h - Write a whole buffer to a file descriptor (internal) --===//
#ifndef KILN_RT_CPU_WRITEALL_H
#define KILN_RT_CPU_WRITEALL_H

#include <cerrno>
#include <cstddef>
#include <unistd.h>

namespace kiln::rt::cpu {

/// Writes all `size` bytes at `data` to `fd`, retrying after signals and short writes.
/// Returns 0, or the errno of the failed write (EIO when it wrote nothing without one).
inline int writeAll(int fd, const void *data, size_t size) {
  const char *p = static_cast<const char *>(data);
  while (size > 0) {
    ssize_t n = write(fd, p, size);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return n < 0 ? errno : EIO;
    p += n;
    size -= static_cast<size_t>(n);
  }
  return 0;
}

} // namespace kiln::rt::cpu

#endif // KILN_RT_CPU_WRITEALL_H
