#include "api/SkipLimit.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/Error.h"

namespace shiftad::api {

size_t allowedSkips(double max_skipped, size_t total) {
  if (std::isinf(max_skipped)) return std::numeric_limits<size_t>::max();
  if (max_skipped >= 1.0) return static_cast<size_t>(std::floor(max_skipped));
  return static_cast<size_t>(std::floor(max_skipped * static_cast<double>(total)));
}

void checkSkipped(double max_skipped, const std::vector<std::string>& skipped, size_t total, const std::string& what,
                  SkippedFrom from) {
  const size_t allowed = allowedSkips(max_skipped, total);
  const std::vector<std::string> first(
      skipped.begin(), skipped.begin() + static_cast<std::ptrdiff_t>(std::min<size_t>(skipped.size(), 3)));
  const bool data_set = from == SkippedFrom::kDataSet;
  // Whatever data.max_skipped allows, a set needs one image to train, score or evaluate.
  SHIFTAD_CHECK(
      total == 0 || skipped.size() < total,
      "none of the {} {} images could be read (e.g. {}); repair or replace them{}", total, what, fmt::join(first, ", "),
      data_set ? " (`shiftad check-data ROOT` says why each one fails)" : " (the log says why the first fail)");
  if (skipped.size() <= allowed) return;
  SHIFTAD_THROW("{} of {} {} images could not be read (e.g. {}), more than {} {} allows ({}); repair or remove them{}",
                skipped.size(), total, what, fmt::join(first, ", "), data_set ? "data.max_skipped =" : "the limit of",
                max_skipped, allowed,
                data_set ? " (`shiftad check-data ROOT` lists every one) or raise data.max_skipped"
                         : ", or allow more: `shiftad score --max-skipped N` (a share < 1 or a count), "
                           "LoadOptions::max_skipped in the library");
}

}  // namespace shiftad::api
