// The bench grid over a suite already in memory (the demo builds one from the
// synthetic suite; `shiftad bench` loads one from suites/).
#pragma once

#include "config/Suite.h"
#include "shiftad/Lab.h"

namespace shiftad::lab {

/// runBench() on `suite` as given (options.suite is not read, and options.quick only
/// titles the report): options' root, variants, seeds and classes still override the
/// suite's.
BenchSummary runSuite(Suite suite, const BenchOptions& options);

/// A bench writes results.csv, reports, figures/ and runs/ into OUT: refuses a folder
/// that is neither new, empty, nor an earlier bench's (it holds the user's files).
void checkBenchOut(const std::string& out_dir);

}  // namespace shiftad::lab
