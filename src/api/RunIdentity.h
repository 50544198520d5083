// A run's files belong together. Synced file by file (rsync of a changed run, a partial
// copy), a run can end up with another run's model.safetensors or calibration.json, or
// with a file whose bits rotted and still parse: each would score without a word. So each
// safetensors file of a run carries a checksum of its tensors and the run's id (derived
// from all of its tensors: two trainings to the same weights share it), and
// calibration.json the id; loading checks both. Runs of earlier versions carry neither
// and are not checked.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <torch/types.h>

#include "io/SafeTensors.h"

namespace shiftad::api {

using NamedTensors = std::map<std::string, torch::Tensor>;

/// XXH64 (hex) of the tensors' names, dtypes, shapes and bytes, in name order.
std::string tensorsChecksum(const NamedTensors& tensors);

/// The id of a run whose files hold `files` (each file's tensors).
std::string runId(const std::vector<const NamedTensors*>& files);

/// `metadata` with the file's checksum and the run's id added.
std::map<std::string, std::string> withIdentity(std::map<std::string, std::string> metadata,
                                                const NamedTensors& tensors, const std::string& run_id);

/// Checks each file's checksum and that all name the same run; returns the run's id ("":
/// files of an earlier version). Errors name the file and what to do.
std::string checkRunFiles(const std::string& run_dir, const std::vector<const io::SafeTensorsFile*>& files);

}  // namespace shiftad::api
