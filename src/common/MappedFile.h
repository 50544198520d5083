// A read-only view of a whole regular file, for the disk caches' entries (decoded
// images, features): opened without blocking, so a FIFO put where an entry belongs
// cannot block a run, and never anything but a regular file. Torch-free.
#pragma once

#include <cstddef>
#include <string>

namespace shiftad {

/// The file's bytes, mapped read-only; unmapped and closed on scope exit.
class MappedFile {
 public:
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  /// Whether something could be opened at the path (a file, or what stands there).
  bool exists() const { return fd_ >= 0; }
  /// The bytes: null, and size() 0, for anything but a non-empty regular file.
  const unsigned char* data() const { return data_; }
  size_t size() const { return data_ ? size_ : 0; }

 private:
  int fd_ = -1;
  size_t size_ = 0;
  const unsigned char* data_ = nullptr;
};

}  // namespace shiftad
