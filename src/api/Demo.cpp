// `shiftad demo`: the main job on the embedded synthetic benchmark.
#include <filesystem>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "data/Synth.h"
#include "evaluation/Metrics.h"
#include "shiftad/shiftad.h"

namespace fs = std::filesystem;

namespace shiftad {

std::vector<DemoRow> runDemo(const DemoOptions& opt) {
  const auto print = opt.print ? opt.print : [](const std::string& line) { fmt::print("{}\n", line); };
  const std::string data_dir = (fs::path(opt.out_dir) / "data").string();
  print(fmt::format("Synthesizing the benchmark into {} (seed {})", data_dir, opt.seed));
  synthesize(data_dir, opt.seed);

  Config base;
  base.data.root = data_dir;
  base.data.source = "source";
  base.data.target = "target";
  base.train.seed = opt.seed;
  base.data.split_seed = opt.seed;

  std::vector<DemoRow> rows;
  for (const auto& cls : data::synthClasses()) {
    DemoRow row{cls};
    for (const bool adapted : {false, true}) {
      Config cfg = base;
      cfg.data.normal_class = cls;
      if (!adapted) cfg.align.method = "none";
      const auto run_dir = (fs::path(opt.out_dir) / "runs" / cls / (adapted ? "adapted" : "source_only")).string();
      TrainOptions replace;  // the demo's own folder: rerunning the demo replaces its runs
      replace.overwrite = true;
      const auto summary = train(cfg, run_dir, replace);
      const auto ev = evaluate(run_dir, cfg);
      (adapted ? row.adapted_auroc : row.source_only_auroc) = ev.auroc;
      print(fmt::format("  {:<10} {:<12} target AUROC {:.3f}  ({:.1f}s, run: {})", cls,
                        adapted ? "adapted" : "source-only", ev.auroc, summary.seconds, run_dir));
    }
    rows.push_back(row);
  }

  std::vector<double> so, ad;
  print("");
  print(fmt::format("{:<12} {:>12} {:>12}", "normal class", "source-only", "adapted"));
  for (const auto& r : rows) {
    print(fmt::format("{:<12} {:>12.1f} {:>12.1f}", r.normal_class, 100 * r.source_only_auroc, 100 * r.adapted_auroc));
    so.push_back(100 * r.source_only_auroc);
    ad.push_back(100 * r.adapted_auroc);
  }
  const auto mso = evaluation::meanStd(so), mad = evaluation::meanStd(ad);
  print(fmt::format("{:<12} {:>5.1f} ± {:<4.1f} {:>5.1f} ± {:<4.1f}", "mean ± std", mso.mean, mso.std, mad.mean, mad.std));
  print("(target test AUROC %, one-vs-all; std over classes)");
  return rows;
}

}  // namespace shiftad
