// safetensors files (https://huggingface.co/docs/safetensors) as torch tensors, and
// loading them into modules. The format itself, torch-free, is io/SafeTensorsFormat.h.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <torch/nn/module.h>
#include <torch/types.h>

#include "common/Rename.h"

namespace shiftad::io {

struct SafeTensorsFile {
  std::map<std::string, torch::Tensor> tensors;  ///< CPU tensors, contiguous
  std::map<std::string, std::string> metadata;   ///< "__metadata__"
  std::string path;                              ///< read from ("" if built in memory), for messages
};

/// Read a file. Supported dtypes: F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL.
/// Every malformed file is a shiftad::Error naming the path and the problem
/// (SafeTensorsReader); nothing larger than the file is ever allocated.
SafeTensorsFile readSafeTensors(const std::string& path);

/// Write tensors (any device; moved to CPU, made contiguous) with metadata.
/// Atomic (writeFileAtomic): a reader sees the old file or the new one; durable
/// (fsync'ed, see common/Rename.h) unless `durability` is kUnsynced (caches that verify
/// their entries).
void writeSafeTensors(const std::string& path, const std::map<std::string, torch::Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {},
                      Durability durability = Durability::kSynced);

/// What loadIntoModule matched and did not, by name.
struct LoadReport {
  std::vector<std::string> missing;     ///< module names absent from the file
  std::vector<std::string> unexpected;  ///< file names (prefix included) that match nothing
  std::vector<std::string> mismatched;  ///< module names whose shape differs from the file's
};

/// Copy the tensors of `file` onto the parameters and buffers of `module` (recursively,
/// by their dotted names). A file dtype is widened to the module's when that is exact
/// (F16 or BF16 into F32; I32 into I64; float values that are all integers into an
/// integer buffer such as num_batches_tracked); any other pair (I32 into F32, F64 into
/// F32, 0.5 into I64) is an error naming the tensor and both dtypes: a cast would load
/// reinterpreted or rounded weights without a word. With a `prefix`, only file names starting
/// with it are considered, and it is stripped before matching. strict: any missing,
/// unexpected or mis-shaped name is one shiftad::Error listing them all and nothing is
/// copied; otherwise the matching tensors are copied and the report returned. A NaN or
/// Inf or a lossy dtype in a tensor to be loaded is always an error naming it (nothing
/// is copied).
/// Errors start with `file.path` when it is set.
LoadReport loadIntoModule(torch::nn::Module& module, const SafeTensorsFile& file, const std::string& prefix = "",
                          bool strict = true);

/// Tensor `name` of `file` in `dtype`, converted only when that is exact as in
/// loadIntoModule (e.g. a run's center, F16 or F32 into F32); an I32-tagged or F64
/// tensor, or a NaN or Inf in it, is an error naming the file and the tensor.
torch::Tensor exactly(const SafeTensorsFile& file, const std::string& name, torch::ScalarType dtype);

/// The parameters and buffers of `module` (recursively) by dotted name, detached
/// (sharing storage); what loadIntoModule expects, e.g. to writeSafeTensors a model.
std::map<std::string, torch::Tensor> moduleStateDict(const torch::nn::Module& module);

}  // namespace shiftad::io
