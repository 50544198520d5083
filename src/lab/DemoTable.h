// The per-class table `shiftad demo` prints on stdout: source-only against the
// recommended variant, from the rows of this demo's grid. Torch-free.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "lab/Report.h"
#include "shiftad/Lab.h"

namespace shiftad::lab {

/// The variant the demo sets the recommended one against.
inline constexpr const char* kDemoBaseline = "source_only";

/// Per normal class, the mean ± std over `seeds` of source_only's and `recommended`'s
/// AUROC (%), then a row over classes and seeds, each line given to `print`. Rows of
/// other seeds, variants or a sweep (an earlier demo's, kept in results.csv) are left
/// out: the caption names `seeds`. Returns the per-class means (fractions).
std::vector<DemoRow> demoTable(const std::vector<evaluation::BenchRow>& rows, const std::vector<int>& seeds,
                               const std::string& recommended, const std::function<void(const std::string&)>& print);

}  // namespace shiftad::lab
