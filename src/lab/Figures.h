// The figures of a benchmark report that need the runs themselves (not just
// results.csv): mean ROC curves from each run's test scores, and a 2-D projection of
// F's features before and after adaptation.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "lab/Report.h"
#include "shiftad/Detector.h"

namespace shiftad::lab {

/// Where `shiftad bench` keeps the run of a row: OUT/runs/[SETTING/]SRC-TGT/CLASS/seedN/VARIANT,
/// each name one folder below OUT/runs whatever it holds ('%' and '/' written as %25 and
/// %2F, a name of dots alone with its dots as %2E): a domain spelled `../x` stays inside.
std::string benchRunDir(const std::string& out_dir, const evaluation::BenchRow& row);

/// Per direction of the main grid: each variant's ROC, vertically averaged over its
/// classes and seeds (from RUN/test_scores.csv; runs without the file are left out),
/// with the area under each mean curve in the legend and the `recommended` variant
/// ("" none) drawn thick.
std::vector<evaluation::Figure> rocFigures(const std::string& out_dir, const std::vector<evaluation::BenchRow>& rows,
                                           const std::string& recommended = "");

/// Per direction: PCA (2-D) of F's features of the source training images and the
/// target pool, for the first class and seed, before adaptation (source_only) and
/// after (the first of `recommended`, cluster_frozen, cluster_self, align_all that ran
/// and trained a detector), with the adapted run's dominant set marked and, for the
/// reader only, the pool's true labels.
/// The runs' features are computed through `cache` (the bench's, where the images are).
std::vector<evaluation::Figure> projectionFigures(const std::string& out_dir,
                                                  const std::vector<evaluation::BenchRow>& rows,
                                                  const std::shared_ptr<Cache>& cache,
                                                  const std::string& recommended = "");

}  // namespace shiftad::lab
