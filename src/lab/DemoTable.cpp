#include "lab/DemoTable.h"

#include <algorithm>
#include <map>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "evaluation/Metrics.h"

namespace shiftad::lab {
namespace {

constexpr const char* kBaseline = kDemoBaseline;

std::string cell(const std::vector<double>& v) {
  const auto m = evaluation::meanStd(v);
  return evaluation::meanStdCell(m.mean, m.std, v.size());
}

}  // namespace

std::vector<DemoRow> demoTable(const std::vector<evaluation::BenchRow>& rows, const std::vector<int>& seeds,
                               const std::string& recommended, const std::function<void(const std::string&)>& print) {
  std::map<std::string, std::map<std::string, std::vector<double>>> auroc;  // class -> variant -> per seed
  std::map<std::string, std::vector<double>> all;                           // variant -> every run
  for (const auto& r : rows) {
    // The folder keeps rows of earlier demos with other --seeds; this table is this demo's.
    const bool ours = std::find(seeds.begin(), seeds.end(), r.seed) != seeds.end() &&
                      (r.variant == kBaseline || r.variant == recommended);
    if (!r.setting.empty() || !ours) continue;
    auroc[r.normal_class][r.variant].push_back(100 * r.auroc);
    all[r.variant].push_back(100 * r.auroc);
  }
  std::vector<DemoRow> out;
  print("");
  print(fmt::format("{:<12} {:>14} {:>14}", "normal class", kBaseline, recommended));
  for (const auto& [cls, by_variant] : auroc) {
    const auto& so = by_variant.at(kBaseline);
    const auto& ad = by_variant.at(recommended);
    out.push_back({cls, evaluation::meanStd(so).mean / 100, evaluation::meanStd(ad).mean / 100});
    print(fmt::format("{:<12} {:>14} {:>14}", cls, cell(so), cell(ad)));
  }
  print(fmt::format("{:<12} {:>14} {:>14}", "all", cell(all[kBaseline]), cell(all[recommended])));
  print(fmt::format("(target test AUROC %, one-vs-all; mean ± std over seeds {}; last row over classes and seeds)",
                    fmt::join(seeds, ", ")));
  return out;
}

}  // namespace shiftad::lab
