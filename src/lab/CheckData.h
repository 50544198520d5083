// `shiftad check-data` (shiftad::checkData, include/shiftad/Lab.h) with the progress of
// its reads configurable, so that tests see the plain lines without waiting for them.
#pragma once

#include <string>

#include "common/Progress.h"
#include "shiftad/Lab.h"

namespace shiftad {

/// checkData, its progress ("checking files": count, rate, ETA) shown by `progress`.
DataCheckReport checkData(const std::string& root, const Config* protocol, const ProgressOptions& progress,
                          int threads = 0);

}  // namespace shiftad
