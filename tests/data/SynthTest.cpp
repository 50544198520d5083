// The synthetic benchmark: layout, determinism, and that the two domains really differ
// in style while keeping the shape (class) information.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <cmath>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "common/Error.h"
#include "data/ImageFolder.h"
#include "data/Synth.h"
#include "support/TestSupport.h"

namespace fs = std::filesystem;
using namespace shiftad::data;
using shiftad::test::TempDir;

namespace {

SynthParams small(int per_class, int seed) {
  SynthParams p;
  p.per_class_source = per_class;
  p.per_class_target = per_class;
  p.seed = seed;
  return p;
}

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// Image files (relative path -> bytes) below `root`.
std::map<std::string, std::string> files(const std::string& root) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file()) out[fs::relative(e.path(), root).string()] = slurp(e.path().string());
  return out;
}

// "DOMAIN KEY VALUE" lines of the Python oracle's pixel statistics -> {"DOMAIN KEY": value}.
std::map<std::string, double> oracleStats(const std::string& root) {
  std::map<std::string, double> out;
  std::istringstream lines(shiftad::test::runPython("data_synth_shift_check.py", "stats " + root));
  std::string domain, key;
  double value = 0;
  while (lines >> domain >> key >> value) out[domain + " " + key] = value;
  return out;
}

// Shape as a foreground mask, centred on its centroid: Otsu threshold of each pixel's
// distance to the border's mean grey (polarity-free), position jitter removed.
cv::Mat foreground(const cv::Mat& bgr) {
  cv::Mat gray, dist, mask;
  cv::cvtColor(bgr, gray, cv::COLOR_BGR2GRAY);
  cv::GaussianBlur(gray, gray, cv::Size(0, 0), 0.8);  // pixel noise would fray the mask
  cv::Mat border = cv::Mat::ones(bgr.size(), CV_8U);
  border(cv::Rect(2, 2, bgr.cols - 4, bgr.rows - 4)).setTo(0);
  cv::absdiff(gray, cv::Scalar(cv::mean(gray, border)[0]), dist);
  cv::threshold(dist, mask, 0, 1, cv::THRESH_BINARY | cv::THRESH_OTSU);
  mask.convertTo(mask, CV_32F);
  const cv::Moments m = cv::moments(mask);
  const cv::Mat shift =
      (cv::Mat_<double>(2, 3) << 1, 0, bgr.cols / 2.0 - m.m10 / m.m00, 0, 1, bgr.rows / 2.0 - m.m01 / m.m00);
  cv::Mat centred;
  cv::warpAffine(mask, centred, shift, mask.size());
  return centred;
}

}  // namespace

TEST(Synth, ClassesAndDomains) {
  const auto classes = synthClasses();
  EXPECT_GE(classes.size(), 6u);
  EXPECT_TRUE(std::is_sorted(classes.begin(), classes.end())) << "ImageFolder lists classes sorted";
  EXPECT_EQ(synthDomains(), (std::vector<std::string>{"source", "target"}));
}

TEST(Synth, WritesTheImageFolderLayout) {
  TempDir t;
  SynthParams p = small(4, 0);
  p.per_class_target = 3;
  writeSynth(t.path(), p);
  EXPECT_EQ(listClasses(t.path(), "source"), synthClasses());
  EXPECT_EQ(listClasses(t.path(), "target"), synthClasses());
  EXPECT_EQ(listDomain(t.path(), "source").size(), 4 * synthClasses().size());
  const auto target = listDomain(t.path(), "target");
  ASSERT_EQ(target.size(), 3 * synthClasses().size());
  EXPECT_EQ(fs::path(target[0].path).filename().string(), "0000.png");
  for (const auto& r : target) {
    const cv::Mat m = cv::imread(r.path, cv::IMREAD_UNCHANGED);
    ASSERT_EQ(m.type(), CV_8UC3) << r.path;
    EXPECT_EQ(m.size(), cv::Size(32, 32)) << r.path;
  }
}

TEST(Synth, DeterministicPerSeed) {
  TempDir a, b, c, d;
  writeSynth(a.path(), small(3, 5));
  writeSynth(b.path(), small(3, 5));
  writeSynth(c.path(), small(3, 6));
  const auto fa = files(a.path()), fb = files(b.path()), fc = files(c.path());
  EXPECT_EQ(fa.size(), 2 * 3 * synthClasses().size());
  EXPECT_EQ(fa, fb);
  for (const auto& [name, bytes] : fa) EXPECT_NE(bytes, fc.at(name)) << name;
  // Each image has its own random stream: more images per class leave the first ones unchanged.
  writeSynth(d.path(), small(5, 5));
  const auto fd = files(d.path());
  for (const auto& [name, bytes] : fa) EXPECT_EQ(bytes, fd.at(name)) << name;
}

TEST(Synth, ImagesOfAClassVary) {
  TempDir t;
  writeSynth(t.path(), small(6, 0));
  for (const auto& domain : synthDomains()) {
    const auto recs = listDomain(t.path(), domain);
    for (size_t i = 1; i < recs.size(); ++i)
      if (recs[i].cls == recs[i - 1].cls) {
        EXPECT_NE(slurp(recs[i].path), slurp(recs[i - 1].path)) << recs[i].path;
      }
  }
}

// The site change, as stated by synthCamera() and synthSurface(), measured on the written PNGs by an
// independent program (tests/oracle/data_synth_shift_check.py stats; what each figure
// measures is in its docstring).
TEST(Synth, TargetSiteChangesWhatItStates) {
  TempDir t;
  writeSynth(t.path(), small(20, 0));
  auto s = oracleStats(t.path());
  ASSERT_EQ(s.size(), 2 * (6 + synthClasses().size())) << "oracle output not understood";
  for (const auto& [key, value] : s) RecordProperty(key, std::to_string(value));
  for (const auto& domain : synthDomains()) {
    SCOPED_TRACE(domain);
    const SynthCamera& cam = synthCamera(domain);
    const auto at = [&](const std::string& key) { return s.at(domain + " " + key); };
    // White balance: the background is neutral grey in every scene, so its colour
    // ratios are the camera's gain ratios (per-image jitter averages out in the median).
    EXPECT_NEAR(at("wb_b_over_r"), cam.white_balance[2] / cam.white_balance[0], 0.08);
    EXPECT_NEAR(at("wb_g_over_r"), cam.white_balance[1] / cam.white_balance[0], 0.06);
    // The surface as recorded: luma of wb ⊙ (e grey + glare), at the means of e, grey
    // and glare (the fall-off averages out over the border).
    const SynthSurface& surf = synthSurface(domain);
    const double luma = 0.299 * cam.white_balance[0] + 0.587 * cam.white_balance[1] + 0.114 * cam.white_balance[2];
    const double mean_surface =
        luma * ((cam.exposure_min + cam.exposure_max) / 2 * (surf.grey_min + surf.grey_max) / 2 +
                (cam.glare_min + cam.glare_max) / 2);
    EXPECT_NEAR(at("surface"), mean_surface, 0.08 * mean_surface);
    // Light fall-off: the oracle compares bands 15/16 of the field apart.
    EXPECT_NEAR(at("falloff"), (cam.falloff_min + cam.falloff_max) / 2 * 15 / 16, 0.05);
    // Sensor noise: added after the blur, so a second difference sees all of it (plus
    // the 8-bit rounding, std 0.29).
    EXPECT_NEAR(at("noise"), std::hypot(cam.noise_sigma, 0.29), 0.1 * cam.noise_sigma + 0.2);
    // Defocus: a Gaussian blur of sigma s spreads an edge so that one pixel step climbs
    // at most erf(0.5 / (s sqrt 2)) of the contrast; a sharp (antialiased) edge, almost
    // all of it. Noise and the mat's texture only add to the largest step.
    const double steepest = cam.blur_sigma > 0 ? std::erf(0.5 / (cam.blur_sigma * std::sqrt(2.0))) : 1.0;
    EXPECT_GT(at("edge"), steepest - 0.1);
    EXPECT_LT(at("edge"), steepest + 0.15);
  }
  EXPECT_LT(s.at("target edge"), 0.7 * s.at("source edge")) << "the target is blurred";
  // The scene does not change: each class's silhouette covers the same share of the
  // image at both sites (the threshold at half the contrast keeps a blurred edge's area).
  for (const auto& cls : synthClasses())
    EXPECT_NEAR(s.at("target area_" + cls) / s.at("source area_" + cls), 1.0, 0.15) << cls;
  // The gap is large: the target's colour cast and its surface are each far outside
  // the source's range.
  EXPECT_GT(s.at("target wb_b_over_r"), 1.5 * s.at("source wb_b_over_r"));
  EXPECT_GT(s.at("target surface"), 2 * s.at("source surface"));
}

// The class survives the shift: a nearest-class-mean classifier on polarity-free
// foreground masks, fitted on target images, recognises held-out target shapes far
// above chance (1/6) -- and so does one fitted on source masks.
TEST(Synth, TargetKeepsTheShapeInformation) {
  TempDir t;
  const int n = 30;
  writeSynth(t.path(), small(n, 3));
  const auto classes = synthClasses();
  std::map<std::string, std::vector<cv::Mat>> src, tgt;
  for (const auto& r : listDomain(t.path(), "source")) src[r.cls].push_back(foreground(cv::imread(r.path)));
  for (const auto& r : listDomain(t.path(), "target")) tgt[r.cls].push_back(foreground(cv::imread(r.path)));
  const auto accuracy = [&](const std::map<std::string, std::vector<cv::Mat>>& fit) {
    std::map<std::string, cv::Mat> mean;
    for (const auto& c : classes) {
      mean[c] = cv::Mat::zeros(32, 32, CV_32F);
      for (int i = 0; i < n / 2; ++i) mean[c] += fit.at(c)[i] / (n / 2);
    }
    int correct = 0, total = 0;
    for (const auto& c : classes)
      for (int i = n / 2; i < n; ++i, ++total) {
        std::string best;
        double best_d = 1e30;
        for (const auto& k : classes) {
          const double d = cv::norm(tgt.at(c)[i], mean[k]);
          if (d < best_d) best_d = d, best = k;
        }
        correct += best == c;
      }
    return static_cast<double>(correct) / total;
  };
  const double within = accuracy(tgt), across = accuracy(src);
  RecordProperty("target_to_target", std::to_string(within));
  RecordProperty("source_to_target", std::to_string(across));
  // Chance is 1/6; with seed 3 these are 0.83 and 0.97.
  EXPECT_GT(within, 0.35);
  EXPECT_GT(across, 0.5);
}

// No timing assertion here: speed is measured by benchmarks, never asserted in tests.
TEST(Synth, DefaultBenchmarkHasEveryImage) {
  TempDir t;
  writeSynth(t.path(), SynthParams{});
  EXPECT_EQ(listDomain(t.path(), "source").size(), 120 * synthClasses().size());
  EXPECT_EQ(listDomain(t.path(), "target").size(), 120 * synthClasses().size());
}

TEST(Synth, BadParametersAreErrors) {
  TempDir t;
  SynthParams p;
  p.size = 8;
  EXPECT_THROW(writeSynth(t.path(), p), shiftad::Error);
  EXPECT_THROW(writeSynth(t.path(), small(0, 0)), shiftad::Error);
}
