// The bench grid over a suite already in memory (the demo builds one from the
// synthetic suite; `shiftad bench` loads one from suites/).
#pragma once

#include "config/Suite.h"
#include "shiftad/shiftad.h"

namespace shiftad::api {

/// runBench() on `suite` as given: BenchOptions' root, variants, seeds and classes
/// still override the suite's; `suite` and `quick` are not read.
BenchSummary runSuite(Suite suite, const BenchOptions& options);

}  // namespace shiftad::api
