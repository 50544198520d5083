// On-disk cache of decoded, resized images (uint8, 3 x side x side), so a later run
// skips JPEG/PNG decoding and resizing. Torch-free.
//
// One file per (image content, transform): DIR/images/<side>-<transform>/<ab>/<key>.u8,
// where <key> hashes the file's bytes, not its path, so a renamed, copied or touched
// dataset still hits and an edited image never does. A file is a 24-byte header
// ("SHIFTADU8", format version, side, XXH64 of the pixels) and the pixels; it is
// written atomically (temporary file, then rename; not fsync'ed, see write()) and read
// through mmap. A damaged entry (wrong size, header or checksum) is a miss: it is
// removed and rewritten, never trusted, and counted (one warning per cache object).
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
  /// Logs the number of damaged entries met, if any, in one warning.
  ~ImageCache();
  ImageCache(const ImageCache&) = delete;
  ImageCache& operator=(const ImageCache&) = delete;

  bool enabled() const { return !folder_.empty(); }
  int side() const { return side_; }
  size_t pixelBytes() const { return static_cast<size_t>(3) * side_ * side_; }

  /// The key of an image file's bytes.
  std::string key(std::string_view file_bytes) const;

  /// Copies the cached pixels (pixelBytes()) into `dst`. False on a miss; a damaged
  /// entry (its checksum is verified on every read) is removed, counted and a miss;
  /// `dst` then holds garbage, to be overwritten by the caller.
  bool read(const std::string& key, uint8_t* dst) const;

  /// Stores pixelBytes() from `src` under `key`. A cache that cannot be written costs
  /// time, never the run: failures are logged (once per cache) and ignored. Not
  /// fsync'ed: after a power loss an entry is there, missing or fails its checksum.
  void write(const std::string& key, const uint8_t* src) const;

  /// The entry's path (for tests and messages).
  std::string pathOf(const std::string& key) const;

  /// Damaged entries read() has met so far.
  long damagedEntries() const { return damaged_.load(); }

 private:
  std::string folder_;  ///< DIR/images/<side>-<transform>, "" when disabled
  int side_;
  mutable std::atomic<bool> warned_{false};  ///< loaders call write() from several threads
  mutable std::atomic<long> damaged_{0};
};

}  // namespace shiftad::data
