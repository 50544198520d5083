#include "api/InputCache.h"

#include <torch/torch.h>

#include "api/Interrupt.h"

namespace shiftad::api {

bool InputCache::recall(const std::string& key, const std::vector<std::string>& paths, FeatureSet& out) const {
  std::lock_guard<std::mutex> lock(rows_mutex_);
  const auto it = rows_.find(key);
  if (it == rows_.end()) return false;
  // Built apart and assigned only when every path is held: a miss leaves `out` as it was
  // (callers then compute the missing rows and recall into the same `out`).
  FeatureSet found;
  std::vector<torch::Tensor> rows;
  for (const auto& p : paths) {
    const auto r = it->second.find(p);
    if (r == it->second.end()) return false;
    if (r->second.defined()) {
      rows.push_back(r->second);
      found.paths.push_back(p);
    } else {
      found.skipped.push_back(p);
    }
  }
  found.features = rows.empty() ? torch::Tensor() : torch::stack(rows);
  out = std::move(found);
  return true;
}

void InputCache::remember(const std::string& key, const std::vector<std::string>& paths, const io::FeatureRows& rows) {
  std::lock_guard<std::mutex> lock(rows_mutex_);
  auto& m = rows_[key];
  const auto valid = rows.valid.to(torch::kUInt8).contiguous();
  for (size_t i = 0; i < paths.size(); ++i)
    m[paths[i]] =
        valid[static_cast<int64_t>(i)].item<uint8_t>() ? rows.features[static_cast<int64_t>(i)] : torch::Tensor();
}

std::vector<std::string> InputCache::missing(const std::string& key, const std::vector<std::string>& paths) const {
  std::lock_guard<std::mutex> lock(rows_mutex_);
  std::vector<std::string> out;
  const auto it = rows_.find(key);
  for (const auto& p : paths)
    if (it == rows_.end() || !it->second.count(p)) out.push_back(p);
  return out;
}

void InputCache::forget(const std::vector<std::string>& paths) {
  std::lock_guard<std::mutex> lock(rows_mutex_);
  for (auto& [key, rows] : rows_)
    for (const auto& p : paths) rows.erase(p);
}

void InputCache::forget(const std::string& key, const std::vector<std::string>& paths) {
  std::lock_guard<std::mutex> lock(rows_mutex_);
  const auto it = rows_.find(key);
  if (it == rows_.end()) return;
  for (const auto& p : paths) it->second.erase(p);
}

void InputCache::clear() {
  std::lock_guard<std::mutex> lock(rows_mutex_);
  rows_.clear();
}

void InputCache::addStats(const std::function<void(InputStats&)>& add) {
  std::lock_guard<std::mutex> lock(stats_mutex_);
  add(stats_);
}

InputStats InputCache::stats() const {
  std::lock_guard<std::mutex> lock(stats_mutex_);
  return stats_;
}

std::optional<std::string> InputCache::trunkFingerprint(const std::string& key) const {
  std::lock_guard<std::mutex> lock(fingerprints_mutex_);
  const auto it = trunk_fingerprints_.find(key);
  if (it == trunk_fingerprints_.end()) return std::nullopt;
  return it->second;
}

void InputCache::setTrunkFingerprint(const std::string& key, const std::string& fingerprint) {
  std::lock_guard<std::mutex> lock(fingerprints_mutex_);
  trunk_fingerprints_[key] = fingerprint;
}

StoppableEmbedding::StoppableEmbedding(InputCache& inputs) : inputs_(inputs), chunk_(inputs.embedChunk()) {
  inputs_.setEmbedChunk(kChunk);
  inputs_.setStopFlag(&stopRequested());
}

StoppableEmbedding::~StoppableEmbedding() {
  inputs_.setStopFlag(nullptr);
  inputs_.setEmbedChunk(chunk_);
}

}  // namespace shiftad::api
