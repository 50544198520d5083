#include "data/ImageCache.h"

#include <array>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/AtomicFile.h"
#include "common/CacheTrim.h"
#include "common/Error.h"
#include "common/Hash.h"
#include "common/Log.h"
#include "common/MappedFile.h"
#include "data/FileCheck.h"

namespace fs = std::filesystem;

namespace shiftad::data {
namespace {

/// Whether this process has not yet warned about `folder`: one line however many caches
/// (sets, image sides) fail to write there.
bool firstWarningFor(const std::string& folder) {
  static std::mutex mutex;
  static std::set<std::string> warned;
  const std::lock_guard<std::mutex> hold(mutex);
  return warned.insert(folder).second;
}

constexpr char kMagic[9] = {'S', 'H', 'I', 'F', 'T', 'A', 'D', 'U', '8'};
// Version 2 added the checksum, version 3 the key to it; version 4 holds only images
// libjpeg read without damage (data/JpegDecode.h), which version 3 did not check.
// Entries of other versions are misses, rewritten quietly.
constexpr uint8_t kVersion = 4;
// magic (9), version (1), reserved (2), side (4), XXH64 of the pixels XOR XXH64 of the
// entry's key (8); little-endian. With the key in it, a valid entry copied under
// another entry's name (a bad merge or restore of a cache) is damage, not pixels.
constexpr size_t kHeaderBytes = 24;
constexpr size_t kChecksumAt = 16;

/// The header's checksum: the pixels' XXH64 XOR the key's.
uint64_t checksumOf(const std::string& key, const uint8_t* pixels, size_t bytes) {
  return xxh64(pixels, bytes) ^ xxh64(key.data(), key.size());
}

std::array<unsigned char, kHeaderBytes> header(int side, uint64_t checksum) {
  std::array<unsigned char, kHeaderBytes> h{};
  std::memcpy(h.data(), kMagic, sizeof(kMagic));
  h[9] = kVersion;
  const auto s = static_cast<uint32_t>(side);
  for (int i = 0; i < 4; ++i) h[12 + i] = static_cast<unsigned char>(s >> (8 * i));
  for (int i = 0; i < 8; ++i) h[kChecksumAt + i] = static_cast<unsigned char>(checksum >> (8 * i));
  return h;
}

/// An entry of another format version (written by an older shiftad): not damage.
bool otherVersion(const unsigned char* data, size_t size) {
  return size >= 10 && std::memcmp(data, kMagic, sizeof(kMagic)) == 0 && data[9] != kVersion;
}

}  // namespace

ImageCache::ImageCache(std::string dir, int side, std::string transform) : side_(side) {
  if (!dir.empty()) folder_ = (fs::path(dir) / "images" / fmt::format("{}-{}", side, transform)).string();
}

std::string ImageCache::key(std::string_view file_bytes) const {
  // Content hash and length: two different images that collide in 64 bits and have
  // the same length are not a practical concern at dataset scale.
  return fmt::format("{:016x}{:08x}", contentHash(file_bytes), file_bytes.size());
}

std::string ImageCache::pathOf(const std::string& key) const {
  return (fs::path(folder_) / key.substr(0, 2) / (key + ".u8")).string();
}

ImageCache::~ImageCache() {
  // One line for all the damaged entries this cache met (not one per entry).
  if (const long n = damaged_.load(); n > 0)
    log::warn(
        "image cache: {} damaged entr{} under {} (checksum, size or header wrong) ignored; the images "
        "were decoded again and the entries rewritten",
        n, n == 1 ? "y" : "ies", folder_);
}

bool ImageCache::read(const std::string& key, uint8_t* dst) const {
  if (!enabled()) return false;
  const std::string path = pathOf(key);
  {
    const MappedFile m(path);
    if (!m.exists()) return false;
    if (m.size() == kHeaderBytes + pixelBytes()) {
      // The payload is verified, not only its header: a flipped byte must not reach a
      // model. The copy is what is hashed, so what passes is what is returned.
      std::memcpy(dst, m.data() + kHeaderBytes, pixelBytes());
      const auto expected = header(side_, checksumOf(key, dst, pixelBytes()));
      if (std::memcmp(m.data(), expected.data(), kHeaderBytes) == 0) {
        touchCacheEntry(path);  // used: trimCache removes the least recently used first
        return true;
      }
    }
    if (!otherVersion(m.data(), m.size())) ++damaged_;
  }
  std::error_code ec;
  fs::remove(path, ec);
  return false;
}

void ImageCache::write(const std::string& key, const uint8_t* src) const {
  if (!enabled() || warned_.load()) return;
  const fs::path path = pathOf(key);
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  std::string why = ec ? ec.message() : "";
  if (why.empty()) why = cacheSpaceShortfall(path.parent_path().string(), kHeaderBytes + pixelBytes());
  if (why.empty()) {
    // Per thread: concurrent writers of the same key each rename a complete file into
    // place, and the last one wins with identical bytes. Not fsync'ed: an entry lost or
    // torn by a power loss fails its checksum, a miss.
    try {
      const auto h = header(side_, checksumOf(key, src, pixelBytes()));
      writeFileAtomic(
          path,
          [&](std::ostream& out) {
            out.write(reinterpret_cast<const char*>(h.data()), static_cast<std::streamsize>(h.size()));
            out.write(reinterpret_cast<const char*>(src), static_cast<std::streamsize>(pixelBytes()));
          },
          Durability::kUnsynced, TemporaryName::kPerThread);
    } catch (const Error& e) {
      why = e.what();
    }
  }
  // The first failure stops this cache's writes: a full disk is not retried per image.
  if (!why.empty() && !warned_.exchange(true) && firstWarningFor(folder_))
    log::warn("cannot write the image cache under {} ({}): decoded images are not kept for later runs", folder_, why);
}

}  // namespace shiftad::data
