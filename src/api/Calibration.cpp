// Calibrating a run (the threshold and the normalised score's reference scores) and
// its file, calibration.json.
#include "api/Calibration.h"

#include <algorithm>
#include <cmath>
#include <set>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "api/Features.h"
#include "api/SkipLimit.h"
#include "common/Error.h"
#include "common/Log.h"
#include "common/TextFile.h"
#include "config/Choices.h"
#include "method/DecisionThreshold.h"

namespace shiftad::api {

double Calibration::normalised(double score) const {
  if (normal_scores.empty()) return 0.0;
  const auto at_or_below = std::upper_bound(normal_scores.begin(), normal_scores.end(), score) - normal_scores.begin();
  return static_cast<double>(at_or_below) / static_cast<double>(normal_scores.size());
}

namespace {

/// The scores of the readable `paths`, checked against data.max_skipped.
ScoredFiles scoredSet(const Config& cfg, const FileScorer& score, const std::vector<std::string>& paths,
                      const char* what) {
  auto s = score(paths);
  checkSkipped(cfg.data.max_skipped, s.skipped, paths.size(), what);
  return s;
}

}  // namespace

bool warnIfScoresAlike(const std::vector<double>& scores, const std::string& what) {
  if (scores.size() < 2) return false;
  const auto [lo, hi] = std::minmax_element(scores.begin(), scores.end());
  const double size = std::max(std::abs(*lo), std::abs(*hi));
  // Scores are float32 (7 digits): within 1e-4 of each other, a ranking is a few roundings.
  if (*hi - *lo > 1e-4 * size) return false;
  log::warn(
      "the detector scores all {} {} images alike ({:.9g} to {:.9g}, a relative spread of {:.1e}): what ranks them "
      "is float rounding, and so is any AUROC or threshold taken from them. A deep network without pretrained weights "
      "(model.weights empty) or an extreme train.svdd_eps does this; give model.weights, or check the config",
      scores.size(), what, *lo, *hi, (*hi - *lo) / size);
  return true;
}

bool warnIfMostOfThePoolIsFlagged(const Calibration& c) {
  const auto n = c.pool_scores.size();
  const auto flagged = static_cast<size_t>(
      std::count_if(c.pool_scores.begin(), c.pool_scores.end(), [&](double s) { return s > c.threshold; }));
  if (n == 0 || 2 * flagged <= n) return false;
  log::warn(
      "the decision threshold {:.6g} flags {} of the {} pool images ({:.0f}%), a pool the method takes to be mostly "
      "normal: expect a large share of the target's normals to be flagged too (the ranking, and so the AUROC, is not "
      "affected). To flag fewer, set threshold.rule: pool_quantile and threshold.quantile (0.8 flags about a fifth "
      "of the pool) in the run's config.yaml, or train with them (docs/deploy.md, \"How good it is\")",
      c.threshold, flagged, n, 100.0 * static_cast<double>(flagged) / static_cast<double>(n));
  return true;
}

std::string ruleText(const Calibration& c) {
  const std::string rule = toString(c.rule.rule);
  return c.fell_back ? fmt::format("{}, fell back to the {} quantile of the calibration normals", rule, c.rule.quantile)
                     : rule;
}

void setThreshold(Calibration& c, const ThresholdConfig& rule) {
  c.rule = rule;
  c.threshold = method::decisionThreshold(rule, {c.source_scores, c.pool_scores, c.normal_scores}, &c.fell_back);
  if (c.fell_back)
    log::warn(
        "threshold.rule mixture: the pool's log scores show no two components; threshold from the "
        "{} quantile of the calibration normals instead",
        rule.quantile);
}

Calibration calibrate(const Config& cfg, const std::vector<std::string>& dominant, const FileScorer& score) {
  const auto split = splitFor(cfg.data);
  const auto source = scoredSet(cfg, score, split.train.source, "source");
  const auto pool = scoredSet(cfg, score, split.train.pool, "pool");
  Calibration c;
  c.rule = cfg.threshold;
  c.source_scores = source.scores;
  c.pool_scores = pool.scores;
  const std::set<std::string> members(dominant.begin(), dominant.end());
  for (size_t i = 0; i < pool.paths.size(); ++i)
    if (members.empty() || members.count(pool.paths[i])) c.normal_scores.push_back(pool.scores[i]);
  // Images of the dominant set no longer in the pool (the data changed): the threshold
  // moves with what is left, and with nothing left, the whole pool stands in.
  if (c.normal_scores.size() < members.size())
    log::warn(
        "{} of the {} images of the run's dominant set are not in the pool of its config now (the target folder "
        "changed?); calibration normals: {}",
        members.size() - c.normal_scores.size(), members.size(),
        c.normal_scores.empty() ? "the whole pool" : "the rest of the dominant set");
  c.normals = members.empty() || c.normal_scores.empty() ? "pool" : "dominant_set";
  if (c.normal_scores.empty()) c.normal_scores = pool.scores;
  std::sort(c.normal_scores.begin(), c.normal_scores.end());
  auto all = c.source_scores;
  all.insert(all.end(), c.pool_scores.begin(), c.pool_scores.end());
  warnIfScoresAlike(all, "source and pool");
  setThreshold(c, cfg.threshold);
  log::info("decision threshold {:.6g} ({}, from {} source, {} pool images; calibration normals: {} of the {})",
            c.threshold, ruleText(c), c.source_scores.size(), c.pool_scores.size(), c.normal_scores.size(), c.normals);
  warnIfMostOfThePoolIsFlagged(c);
  return c;
}

void writeCalibration(const std::string& path, const Calibration& c) {
  const nlohmann::json j = {
      {"threshold", c.threshold},         {"rule", toString(c.rule.rule)}, {"quantile", c.rule.quantile},
      {"fell_back", c.fell_back},         {"normals", c.normals},          {"normal_scores", c.normal_scores},
      {"source_scores", c.source_scores}, {"pool_scores", c.pool_scores}};
  auto out = j;
  if (!c.run_id.empty()) out["run_id"] = c.run_id;
  writeTextAtomic(path, out.dump() + "\n");
}

namespace {

/// The threshold a calibration stores is its rule's over the scores it stores (a pure
/// function of them); one that is not (a file edited by hand, or by another version) is
/// said and replaced by the rule's: it decided against the image's own normalised score
/// (a threshold of -5 called every image anomalous, at 0.56 of the normals).
void checkStoredThreshold(const std::string& path, Calibration& c) {
  bool fell_back = false;
  const double expected =
      method::decisionThreshold(c.rule, {c.source_scores, c.pool_scores, c.normal_scores}, &fell_back);
  if (std::abs(expected - c.threshold) <= 1e-9 * std::max(1.0, std::abs(expected))) return;
  log::warn(
      "'{}': its threshold {:.9g} is not what its rule ({}) gives over the scores it stores, {:.9g} (the file was "
      "edited, or written by another version of shiftad); deciding by {:.9g}",
      path, c.threshold, toString(c.rule.rule), expected, expected);
  c.threshold = expected;
  c.fell_back = fell_back;
}

}  // namespace

Calibration readCalibration(const std::string& path) {
  Calibration c;
  try {
    const auto j = nlohmann::json::parse(readText(path));
    const auto rule = config::parseChoice<ThresholdRule>(j.at("rule").get<std::string>());
    SHIFTAD_CHECK(rule, "unknown rule '{}'", j.at("rule").get<std::string>());
    c.rule.rule = *rule;
    c.rule.quantile = j.at("quantile").get<double>();
    c.threshold = j.at("threshold").get<double>();
    c.fell_back = j.at("fell_back").get<bool>();
    c.normals = j.at("normals").get<std::string>();
    c.normal_scores = j.at("normal_scores").get<std::vector<double>>();
    c.source_scores = j.at("source_scores").get<std::vector<double>>();
    c.pool_scores = j.at("pool_scores").get<std::vector<double>>();
    if (j.contains("run_id")) c.run_id = j.at("run_id").get<std::string>();
  } catch (const std::exception& e) {
    SHIFTAD_THROW(
        "'{}' is not a readable calibration ({}); delete it to have the run calibrated again from its data on "
        "first need",
        path, e.what());
  }
  SHIFTAD_CHECK(std::is_sorted(c.normal_scores.begin(), c.normal_scores.end()) && !c.normal_scores.empty(),
                "'{}': normal_scores must be a non-empty ascending list; delete the file to have the run "
                "calibrated again from its data on first need",
                path);
  SHIFTAD_CHECK(c.rule.quantile >= 0.5 && c.rule.quantile <= 1.0,
                "'{}': quantile {} is outside [0.5, 1] (threshold.quantile's range); delete the file to have the run "
                "calibrated again from its data on first need",
                path, c.rule.quantile);
  checkStoredThreshold(path, c);
  return c;
}

}  // namespace shiftad::api
