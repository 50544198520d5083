#include "lab/Figures.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "common/Csv.h"
#include "common/Log.h"
#include "common/PathList.h"
#include "data/ConfigSplit.h"
#include "common/Error.h"
#include "common/Number.h"
#include "common/Hash.h"
#include "evaluation/Metrics.h"
#include "shiftad/shiftad.h"
#include "lab/Svg.h"

namespace fs = std::filesystem;

namespace shiftad::lab {
namespace {

using evaluation::BenchRow;
using evaluation::Figure;
using evaluation::PlotSpec;
using evaluation::Series;

std::string slug(const std::string& s) {
  std::string o;
  for (char c : s) o += std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ? c : '_';
  return o;
}

/// Which direction took which figure name (stem -> source, NUL, target).
using TakenStems = std::map<std::string, std::string>;

/// The file name of direction `src` → `tgt`'s figure: PREFIX + slug(src) + "-" +
/// slug(tgt) + SUFFIX, unique among `taken`: two directions whose names slug() makes the
/// same (they differ in characters it replaces, or in where a '-' falls) would write one
/// file, so the later one gets 8 hex digits of a hash of both names.
std::string directionStem(const std::string& prefix, const std::string& src, const std::string& tgt,
                          const std::string& suffix, TakenStems& taken) {
  const std::string key = src + std::string(1, '\0') + tgt;
  auto stem = prefix + slug(src) + "-" + slug(tgt) + suffix;
  if (const auto [it, fresh] = taken.emplace(stem, key); fresh || it->second == key) return stem;
  stem = prefix + slug(src) + "-" + slug(tgt) + fmt::format("-{:08x}", fnv1a(key) & 0xffffffffu) + suffix;
  taken.emplace(stem, key);
  return stem;
}

/// (labels, scores) of RUN/test_scores.csv; empty when the run has none.
bool readTestScores(const std::string& run_dir, std::vector<int>& labels, std::vector<double>& scores) {
  std::ifstream f(fs::path(run_dir) / kTestScoresFile);
  if (!f) return false;
  std::string record;
  int lines = 0;
  csv::readRecord(f, record, lines);  // label,score,path
  while (csv::readRecord(f, record, lines)) {
    const auto fields = csv::split(record);
    if (fields.size() < 3) continue;
    labels.push_back(numberIn<int>(fields[0]));
    scores.push_back(numberIn<double>(fields[1]));
  }
  return !labels.empty();
}

/// F's features of `paths` by a trained run (head on cached trunk features when frozen).
torch::Tensor embedByRun(const std::string& run_dir, const std::vector<std::string>& paths,
                         const std::shared_ptr<Cache>& cache, std::vector<std::string>& kept) {
  LoadOptions options;
  options.cache = cache;
  auto e = Detector::load(run_dir, options).embed(paths);
  kept = e.paths;
  return torch::from_blob(e.values.data(), {static_cast<int64_t>(e.paths.size()), e.dim}, torch::kFloat).clone();
}

/// Rows projected on their first two principal components.
torch::Tensor pca2(const torch::Tensor& x) {
  const auto centered = x.to(torch::kDouble) - x.to(torch::kDouble).mean(0, true);
  const auto vh = std::get<2>(torch::linalg_svd(centered, /*full_matrices=*/false));
  return centered.matmul(vh.slice(0, 0, 2).t()).contiguous();
}

}  // namespace

namespace {

/// `name` as one folder name (benchRunDir): one-to-one, so two names never share a folder.
std::string folderName(const std::string& name) {
  if (name.find_first_not_of('.') == std::string::npos) {
    std::string dots;
    for (size_t i = 0; i < name.size(); ++i) dots += "%2E";
    return dots;
  }
  std::string out;
  for (const char c : name) out += c == '%' ? "%25" : c == '/' ? "%2F" : std::string(1, c);
  return out;
}

}  // namespace

std::string benchRunDir(const std::string& out_dir, const BenchRow& r) {
  fs::path p = fs::path(out_dir) / "runs";
  if (!r.setting.empty()) p /= folderName(r.setting);
  return (p / folderName(r.source + "-" + r.target) / folderName(r.normal_class) / fmt::format("seed{}", r.seed) /
          folderName(r.variant))
      .string();
}

namespace {

/// A merged bench may hold rows whose run folders (and test scores) are elsewhere: the
/// caption names the variants drawn without a curve, so that none looks as if not run.
std::string rocCaption(const std::string& direction, const std::string& recommended, bool fitted_axis,
                       const std::vector<std::string>& absent) {
  return "ROC curves of " + evaluation::literal(direction) +
         ", vertically averaged over classes and seeds (target test split); the "
         "legend gives each variant's mean AUROC over the same runs, best first" +
         std::string(recommended.empty() ? "" : "; thick: the recommended variant (★)") +
         (absent.empty() ? std::string()
                         : fmt::format("; no curve for {} (their runs' test scores are not in this folder; the "
                                       "tables hold their results)",
                                       fmt::join(absent, ", "))) +
         (fitted_axis ? "; the TPR axis starts at the lowest curve, not at 0." : ".");
}

}  // namespace

std::vector<Figure> rocFigures(const std::string& out_dir, const std::vector<BenchRow>& rows,
                               const std::string& recommended) {
  std::map<std::string, std::map<std::string, std::vector<evaluation::RocCurve>>> curves;  // direction, variant
  std::map<std::string, std::map<std::string, std::vector<double>>> aurocs;                // of the same runs
  std::vector<std::string> directions, variants;
  std::map<std::string, std::pair<std::string, std::string>> names;  // direction -> source, target
  for (const auto& r : rows) {
    if (!r.setting.empty()) continue;
    // Every variant of the grid numbers a colour, so that a variant keeps the colour of
    // the summary bars even where some of its runs have no scores.
    if (std::find(variants.begin(), variants.end(), r.variant) == variants.end()) variants.push_back(r.variant);
    std::vector<int> labels;
    std::vector<double> scores;
    if (!readTestScores(benchRunDir(out_dir, r), labels, scores)) continue;
    const auto d = r.source + " → " + r.target;
    if (std::find(directions.begin(), directions.end(), d) == directions.end()) directions.push_back(d);
    names[d] = {r.source, r.target};
    curves[d][r.variant].push_back(evaluation::rocCurve(scores, labels));
    aurocs[d][r.variant].push_back(evaluation::auroc(scores, labels));
  }
  std::vector<Figure> out;
  TakenStems taken;
  for (const auto& d : directions) {
    std::vector<Series> lines;
    for (size_t i = 0; i < variants.size(); ++i) {
      const auto it = curves[d].find(variants[i]);
      if (it == curves[d].end()) continue;
      const auto m = evaluation::meanRoc(it->second);
      // The legend's AUROC is the runs' mean, as in the tables: the area under the mean
      // curve (sampled on an FPR grid) can differ from it by a few tenths.
      lines.push_back({evaluation::variantLabel(variants[i], recommended),
                       m.fpr,
                       m.tpr,
                       {},
                       static_cast<int>(i),
                       variants[i] == recommended,
                       evaluation::meanStd(aurocs[d][variants[i]]).mean});
    }
    // TPR fitted to the curves (they differ near the top), FPR over its whole range.
    PlotSpec spec{"ROC, " + d + " (mean over classes and seeds)",
                  "false positive rate",
                  "true positive rate",
                  0,
                  1,
                  0,
                  1,
                  true,
                  "AUROC"};
    spec.ymin = evaluation::niceRange(evaluation::dataRange(lines).lo, 1, 5, 0, 1).lo;
    std::vector<std::string> absent;
    for (const auto& v : variants)
      if (!curves[d].count(v)) absent.push_back(v);
    out.push_back({directionStem("roc-", names[d].first, names[d].second, "", taken),
                   rocCaption(d, recommended, spec.ymin > 0, absent), evaluation::linePlot(spec, lines)});
  }
  return out;
}

namespace {

/// What a projection shows of each image: source, or pool by true label and by
/// membership of the adapted run's dominant set.
struct ProjectionGroups {
  std::set<std::string> source, dominant;
  std::map<std::string, int> truth;  // pool labels, for display only
};

/// One scatter plot: `run`'s features of `paths` on their first two principal components.
Figure projection(const std::string& run, const std::string& which, const BenchRow& first,
                  const std::vector<std::string>& paths, const ProjectionGroups& known,
                  const std::shared_ptr<Cache>& cache, const std::string& stem) {
  const auto d = first.source + " → " + first.target;
  std::vector<std::string> kept;
  const auto xy = pca2(embedByRun(run, paths, cache, kept));
  std::vector<Series> groups = {{"source normal", {}, {}, {}},
                                {"pool normal, dominant", {}, {}, {}},
                                {"pool normal, not dominant", {}, {}, {}},
                                {"pool anomaly, dominant", {}, {}, {}},
                                {"pool anomaly, not dominant", {}, {}, {}}};
  double lo = 1e300, hi = -1e300;
  for (size_t i = 0; i < kept.size(); ++i) {
    size_t g = 0;
    if (!known.source.count(kept[i])) {
      const auto label = known.truth.find(kept[i]);
      const bool anomaly = label != known.truth.end() && label->second == 1;
      g = 1 + 2 * static_cast<size_t>(anomaly) + (known.dominant.count(kept[i]) ? 0 : 1);
    }
    const double x = xy[static_cast<int64_t>(i)][0].item<double>(), y = xy[static_cast<int64_t>(i)][1].item<double>();
    groups[g].x.push_back(x), groups[g].y.push_back(y);
    lo = std::min({lo, x, y}), hi = std::max({hi, x, y});
  }
  const double pad = 0.05 * (hi - lo + 1e-12);
  const PlotSpec spec{"PCA of F's features, " + d + ", class " + first.normal_class + ", " + which,
                      "PC 1",
                      "PC 2",
                      lo - pad,
                      hi + pad,
                      lo - pad,
                      hi + pad,
                      false};
  return {stem + (which[0] == 'b' ? "-before" : "-after"),
          "F's features of the source training images and the target pool (PCA to 2-D), " + evaluation::literal(d) +
              ", class " + evaluation::literal(first.normal_class) + ", seed " + std::to_string(first.seed) + ", " +
              which + "; the dominant set is the adapted run's; pool labels are shown for the reader only.",
          evaluation::scatterPlot(spec, groups)};
}

/// Before and after adaptation for the direction of `first`.
void addProjections(const std::string& before, const std::string& after, const std::string& after_variant,
                    const BenchRow& first, const std::shared_ptr<Cache>& cache, const std::string& stem,
                    std::vector<Figure>& out) {
  const auto cfg = loadRunConfig(after);
  const auto split = data::splitFor(cfg.data);
  std::vector<std::string> paths = split.train.source;
  paths.insert(paths.end(), split.train.pool.begin(), split.train.pool.end());
  ProjectionGroups known;
  const auto dom = readPathList((fs::path(after) / kDominantFile).string());
  known.dominant = std::set<std::string>(dom.begin(), dom.end());
  for (size_t i = 0; i < split.pool_truth.paths.size(); ++i)
    known.truth[split.pool_truth.paths[i]] = split.pool_truth.is_anomaly[i];
  known.source = std::set<std::string>(split.train.source.begin(), split.train.source.end());
  for (const auto& [which, run] :
       {std::pair<std::string, std::string>{"before (source_only)", before}, {"after (" + after_variant + ")", after}})
    out.push_back(projection(run, which, first, paths, known, cache, stem));
}

}  // namespace

std::vector<Figure> projectionFigures(const std::string& out_dir, const std::vector<BenchRow>& rows,
                                      const std::shared_ptr<Cache>& cache, const std::string& recommended) {
  std::vector<Figure> out;
  std::set<std::string> done;
  TakenStems taken;
  for (const auto& first : rows) {
    const auto d = first.source + " → " + first.target;
    if (!first.setting.empty() || done.count(d)) continue;
    // The first class and seed of the direction, and the runs before/after adaptation.
    auto runOf = [&](const std::string& variant) -> std::string {
      BenchRow r = first;
      r.variant = variant;
      const auto dir = benchRunDir(out_dir, r);
      // A center: a trained detector (a frozen baseline keeps Φ's weights, no center).
      return fs::exists(fs::path(dir) / kCenterFile) ? dir : "";
    };
    const auto before = runOf("source_only");
    // The suite's recommended variant is what a reader of the report would run.
    std::vector<std::string> adapted = {"cluster_frozen", "cluster_self", "align_all"};
    if (!recommended.empty() && recommended != "source_only") adapted.insert(adapted.begin(), recommended);
    std::string after, after_variant;
    for (const auto& v : adapted)
      if (after.empty() && !(after = runOf(v)).empty()) after_variant = v;
    if (before.empty() || after.empty()) continue;
    done.insert(d);
    try {
      addProjections(before, after, after_variant, first, cache,
                     directionStem("pca-", first.source, first.target, "", taken), out);
    } catch (const std::exception& e) {
      log::warn("projection of {} skipped: {}", d, e.what());
    }
  }
  return out;
}

}  // namespace shiftad::lab
