#include "api/RunIdentity.h"

#include <fmt/format.h>

#include "common/Error.h"
#include "common/Hash.h"

namespace shiftad::api {

namespace {

constexpr const char* kChecksumKey = "tensors_xxh64";
constexpr const char* kRunIdKey = "run_id";

std::string hex(uint64_t h) { return fmt::format("{:016x}", h); }

std::string metadataOf(const io::SafeTensorsFile& f, const char* key) {
  const auto it = f.metadata.find(key);
  return it == f.metadata.end() ? "" : it->second;
}

}  // namespace

std::string tensorsChecksum(const NamedTensors& tensors) {
  uint64_t h = 0;
  for (const auto& [name, t] : tensors) {
    const auto c = t.detach().to(torch::kCPU).contiguous();
    const auto head = fmt::format("{}|{}|{}", name, c10::toString(c.scalar_type()), c10::str(c.sizes()));
    h = xxh64(head.data(), head.size(), h);
    h = xxh64(c.data_ptr(), c.nbytes(), h);
  }
  return hex(h);
}

std::string runId(const std::vector<const NamedTensors*>& files) {
  uint64_t h = 0;
  for (const auto* f : files) {
    const auto c = tensorsChecksum(*f);
    h = xxh64(c.data(), c.size(), h);
  }
  return hex(h);
}

std::map<std::string, std::string> withIdentity(std::map<std::string, std::string> metadata,
                                                const NamedTensors& tensors, const std::string& run_id) {
  metadata[kChecksumKey] = tensorsChecksum(tensors);
  metadata[kRunIdKey] = run_id;
  return metadata;
}

std::string checkRunFiles(const std::string& run_dir, const std::vector<const io::SafeTensorsFile*>& files) {
  std::string id, id_file;
  for (const auto* f : files) {
    const auto sum = metadataOf(*f, kChecksumKey);
    SHIFTAD_CHECK(sum.empty() || sum == tensorsChecksum(f->tensors),
                  "'{}' is damaged: its tensors no longer match the checksum written with them (bits changed on "
                  "disk or in a copy); restore the file from a copy of the run, or train the run again",
                  f->path);
    const auto file_id = metadataOf(*f, kRunIdKey);
    if (file_id.empty()) continue;
    SHIFTAD_CHECK(id.empty() || file_id == id,
                  "run directory '{}' mixes files of two runs: '{}' belongs to run {} and '{}' to run {} (a partial "
                  "copy?); restore the run's own files, or train the run again",
                  run_dir, id_file, id, f->path, file_id);
    id = file_id, id_file = f->path;
  }
  return id;
}

}  // namespace shiftad::api
