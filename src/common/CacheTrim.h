// A size limit for the disk caches (decoded images, features): they are shared between
// runs and processes and grew without end (a re-synced data set, whose files changed
// mtime, added a full feature set each time). Least recently used entries go first.
// Torch-free.
#pragma once

#include <cstdint>
#include <string>

namespace shiftad {

/// What trimCache removed.
struct CacheTrim {
  uintmax_t entries = 0, bytes = 0;  ///< removed
  uintmax_t kept_bytes = 0;          ///< what the entries take after
  uintmax_t stale_temporaries = 0;   ///< temporaries of entries whose writers were killed, removed (StaleTemporary.h)
};

/// When the entries shiftad writes under the cache folder `root` (decoded images,
/// images/*/*/*.u8; features, features/*/*/*.f32, and earlier versions'
/// features-*.safetensors) take more than `max_bytes`,
/// remove the least recently used (oldest modification time: a read refreshes it,
/// touchCacheEntry) until they take at most 90% of it. Nothing else under `root` is
/// looked at or removed, except the entries' temporaries that killed writers left
/// (isStaleTemporary), removed whatever the limit. 0: no limit. Best effort: an entry
/// that cannot be removed, or that another process removed first, is passed over.
CacheTrim trimCache(const std::string& root, uintmax_t max_bytes);

/// Whether `dir` is a shiftad cache folder (`encoder.cache_dir`): it holds the layout
/// ImageCache and FeatureCache write, images/<side>-<transform>/ or
/// features/<16 hex digits>/. `check-data` passes over such a folder inside the data.
bool isCacheFolder(const std::string& dir);

/// Mark a cache entry used now (its modification time), so that trimCache keeps it
/// longer than entries nobody reads. Best effort (a read-only cache stays as it is).
void touchCacheEntry(const std::string& path);

}  // namespace shiftad
