//===- FileIO.h - Memory-mapped reading and atomic writing ------*- C++ -*-===//
//
// Shared by artifacts and weights: a read-only memory mapping of a whole file, and a writer that
// replaces a file atomically (temporary file in the same folder, fsync, rename, fsync of the
// folder), so that a crash or a full disk never leaves a half-written model or checkpoint.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RT_ARTIFACT_FILEIO_H
#define KILN_RT_ARTIFACT_FILEIO_H

#include "kiln/rt/artifact/Status.h"

#include <cstddef>
#include <cstdint>
#include <string>

namespace kiln::rt {

/// A read-only mapping of a whole file. Move-only.
class MappedFile {
public:
  MappedFile() = default;
  ~MappedFile();
  MappedFile(MappedFile &&o) noexcept;
  MappedFile &operator=(MappedFile &&o) noexcept;
  MappedFile(const MappedFile &) = delete;
  MappedFile &operator=(const MappedFile &) = delete;

  /// Maps `path`; an empty file maps to size 0 (data() is then a valid, empty pointer).
  static Status open(const std::string &path, MappedFile &out);

  const uint8_t *data() const { return data_; }
  size_t size() const { return size_; }
  /// Tells the kernel the whole pages inside [p, p + n) of this mapping are not needed any
  /// more (they are read again from the file if touched), so data that was copied out does not
  /// stay resident twice.
  void dropPages(const uint8_t *p, size_t n) const;

private:
  void reset();
  uint8_t *data_ = nullptr;
  size_t size_ = 0;
  bool mapped_ = false;
};

/// Writes a new version of a file so that readers see either the old or the complete new one.
/// Move-only; a writer destroyed before commit() removes its temporary file.
class AtomicFileWriter {
public:
  AtomicFileWriter() = default;
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter &) = delete;
  AtomicFileWriter &operator=(const AtomicFileWriter &) = delete;

  /// Creates the temporary file next to `path`.
  Status open(const std::string &path);
  Status write(const void *data, size_t size);
  /// Flushes to disk and renames over `path`.
  Status commit();

private:
  void abandon();
  std::string path_, tempPath_;
  int fd_ = -1;
  unsigned char *buffer_ = nullptr;
  size_t buffered_ = 0;
  Status flushBuffer();
};

} // namespace kiln::rt

#endif // KILN_RT_ARTIFACT_FILEIO_H
