// On-disk cache of decoded, resized images (uint8, 3 x side x side), so a later run
// skips JPEG/PNG decoding and resizing. Torch-free.
//
// One file per (image content, transform): DIR/images/<side>-<transform>/<ab>/<key>.u8,
// where <key> hashes the file's bytes, not its path, so a renamed, copied or touched
// dataset still hits and an edited image never does. A file is a 16-byte header
// ("SHIFTADU8", format version, side) and the pixels; it is written atomically
// (temporary file, then rename) and read through mmap. A damaged entry (wrong size or
// header) is a miss: it is removed and rewritten, never trusted.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

namespace shiftad::data {

class ImageCache {
 public:
  /// `dir` "" disables the cache (every read misses, writes do nothing). `transform`
  /// names what produced the pixels (e.g. "bilinear"); it is part of the folder name.
  ImageCache(std::string dir, int side, std::string transform);

  bool enabled() const { return !folder_.empty(); }
  int side() const { return side_; }
  size_t pixelBytes() const { return static_cast<size_t>(3) * side_ * side_; }

  /// The key of an image file's bytes.
  std::string key(std::string_view file_bytes) const;

  /// Copies the cached pixels (pixelBytes()) into `dst`. False on a miss; a damaged
  /// entry is removed and reported as a miss.
  bool read(const std::string& key, uint8_t* dst) const;

  /// Stores pixelBytes() from `src` under `key`. A cache that cannot be written costs
  /// time, never the run: failures are logged (once per cache) and ignored.
  void write(const std::string& key, const uint8_t* src) const;

  /// The entry's path (for tests and messages).
  std::string pathOf(const std::string& key) const;

 private:
  std::string folder_;  ///< DIR/images/<side>-<transform>, "" when disabled
  int side_;
  mutable std::atomic<bool> warned_{false};  ///< loaders call write() from several threads
};

}  // namespace shiftad::data
