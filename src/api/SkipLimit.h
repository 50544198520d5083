// data.max_skipped: how many unreadable images a set may lose before it is an error.
#pragma once

#include <string>
#include <vector>

namespace shiftad::api {

/// The most files of a set of `total` that may be skipped: max_skipped < 1 is a
/// share of `total` (rounded down), >= 1 a count.
size_t allowedSkips(double max_skipped, size_t total);

/// Where the files came from, for the advice of checkSkipped's message: a data set
/// under data.root (check-data lists them; the key data.max_skipped), or files given to
/// score (the limit is score's --max-skipped, LoadOptions::max_skipped).
enum class SkippedFrom { kDataSet, kScoredFiles };

/// Throw a shiftad::Error naming the set (`what`), the counts, the first skipped files
/// and how to allow more when `skipped` is more than allowedSkips(max_skipped, total), or
/// when it is the whole (non-empty) set.
void checkSkipped(double max_skipped, const std::vector<std::string>& skipped, size_t total, const std::string& what,
                  SkippedFrom from = SkippedFrom::kDataSet);

}  // namespace shiftad::api
