//===- FileIO.cpp - Memory-mapped reading and atomic writing --------------===//
#include "kiln/rt/artifact/FileIO.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace kiln::rt {
namespace {
std::string sysError(const std::string &path, const char *what) {
  return path + ": " + what + ": " + std::strerror(errno);
}
constexpr size_t kWriteBufferSize = 1 << 20;
} // namespace

//===----------------------------------------------------------------------===//
// MappedFile
//===----------------------------------------------------------------------===//

MappedFile::~MappedFile() { reset(); }

MappedFile::MappedFile(MappedFile &&o) noexcept
    : data_(o.data_), size_(o.size_), mapped_(o.mapped_) {
  o.data_ = nullptr;
  o.size_ = 0;
  o.mapped_ = false;
}

MappedFile &MappedFile::operator=(MappedFile &&o) noexcept {
  if (this != &o) {
    reset();
    data_ = o.data_;
    size_ = o.size_;
    mapped_ = o.mapped_;
    o.data_ = nullptr;
    o.size_ = 0;
    o.mapped_ = false;
  }
  return *this;
}

void MappedFile::reset() {
  if (mapped_)
    ::munmap(data_, size_);
  data_ = nullptr;
  size_ = 0;
  mapped_ = false;
}

void MappedFile::dropPages(const uint8_t *p, size_t n) const {
  if (!mapped_ || p < data_ || p + n > data_ + size_)
    return;
  const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  uintptr_t begin = (reinterpret_cast<uintptr_t>(p) + page - 1) / page * page;
  uintptr_t end = (reinterpret_cast<uintptr_t>(p) + n) / page * page;
  if (end > begin)
    ::madvise(reinterpret_cast<void *>(begin), end - begin, MADV_DONTNEED);
}

Status MappedFile::open(const std::string &path, MappedFile &out) {
  out.reset();
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return Status::ioError(sysError(path, "cannot open"));
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    Status s = Status::ioError(sysError(path, "cannot stat"));
    ::close(fd);
    return s;
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::ioError(path + ": not a regular file");
  }
  if (st.st_size == 0) {
    ::close(fd);
    static uint8_t empty[1];
    out.data_ = empty;
    return Status::success();
  }
  void *p = ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
  if (p == MAP_FAILED) {
    Status s = Status::ioError(sysError(path, "cannot map"));
    ::close(fd);
    return s;
  }
  ::close(fd);
  out.data_ = static_cast<uint8_t *>(p);
  out.size_ = static_cast<size_t>(st.st_size);
  out.mapped_ = true;
  return Status::success();
}

//===----------------------------------------------------------------------===//
// AtomicFileWriter
//===----------------------------------------------------------------------===//

AtomicFileWriter::~AtomicFileWriter() { abandon(); }

void AtomicFileWriter::abandon() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(tempPath_.c_str());
    fd_ = -1;
  }
  std::free(buffer_);
  buffer_ = nullptr;
  buffered_ = 0;
}

Status AtomicFileWriter::open(const std::string &path) {
  abandon();
  path_ = path;
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "" : path.substr(0, slash + 1);
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  if (base.empty())
    return Status::ioError(path + ": not a file name");
  tempPath_ = dir + "." + base + ".tmp-XXXXXX";
  fd_ = ::mkstemp(tempPath_.data());
  if (fd_ < 0)
    return Status::ioError(sysError(path, "cannot create a temporary file next to it"));
  // mkstemp creates 0600; give the result the usual permissions for a new file.
  mode_t mask = ::umask(0);
  ::umask(mask);
  ::fchmod(fd_, 0666 & ~mask);
  buffer_ = static_cast<unsigned char *>(std::malloc(kWriteBufferSize));
  if (!buffer_) {
    abandon();
    return Status::ioError(path + ": out of memory");
  }
  return Status::success();
}

Status AtomicFileWriter::flushBuffer() {
  size_t done = 0;
  while (done < buffered_) {
    ssize_t n = ::write(fd_, buffer_ + done, buffered_ - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      Status s = Status::ioError(sysError(path_, "cannot write"));
      abandon();
      return s;
    }
    done += static_cast<size_t>(n);
  }
  buffered_ = 0;
  return Status::success();
}

Status AtomicFileWriter::write(const void *data, size_t size) {
  if (fd_ < 0)
    return Status::ioError(path_ + ": writer is not open");
  const auto *p = static_cast<const unsigned char *>(data);
  while (size > 0) {
    size_t n = std::min(size, kWriteBufferSize - buffered_);
    std::memcpy(buffer_ + buffered_, p, n);
    buffered_ += n;
    p += n;
    size -= n;
    if (buffered_ == kWriteBufferSize) {
      Status s = flushBuffer();
      if (!s.ok())
        return s;
    }
  }
  return Status::success();
}

Status AtomicFileWriter::commit() {
  if (fd_ < 0)
    return Status::ioError(path_ + ": writer is not open");
  Status s = flushBuffer();
  if (!s.ok())
    return s;
  if (::fsync(fd_) != 0) {
    s = Status::ioError(sysError(path_, "cannot sync"));
    abandon();
    return s;
  }
  if (::close(fd_) != 0) {
    fd_ = -1;
    ::unlink(tempPath_.c_str());
    return Status::ioError(sysError(path_, "cannot close"));
  }
  fd_ = -1;
  if (::rename(tempPath_.c_str(), path_.c_str()) != 0) {
    s = Status::ioError(sysError(path_, "cannot rename the temporary file over"));
    ::unlink(tempPath_.c_str());
    return s;
  }
  std::free(buffer_);
  buffer_ = nullptr;
  // Make the rename itself durable.
  size_t slash = path_.rfind('/');
  std::string dir = slash == std::string::npos ? "." : path_.substr(0, slash + 1);
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return Status::success();
}

} // namespace kiln::rt
