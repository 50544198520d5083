#include "export/OnnxMetadata.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/Hash.h"

#ifndef SHIFTAD_VERSION
#define SHIFTAD_VERSION "unknown"
#endif

namespace shiftad::exporting {

namespace {

/// How the caller resizes, as data::loadImages does (src/data/ImageTensors.cpp resizeTo).
std::string resizeFilter(Interpolation interpolation) {
  return interpolation == Interpolation::kBicubic ? "bicubic" : "area_if_shrinking_else_bilinear";
}

std::string resizeInstruction(const Config& cfg, int side) {
  const auto filter = cfg.data.interpolation == Interpolation::kBicubic
                          ? std::string("OpenCV cv::resize INTER_CUBIC")
                          : std::string(
                                "OpenCV cv::resize INTER_AREA when neither side grows, else INTER_LINEAR "
                                "(an image already at that size is used as it is)");
  return fmt::format(
      "decode to 8-bit RGB (grayscale replicated, alpha dropped, EXIF orientation ignored: OpenCV imread with "
      "IMREAD_IGNORE_ORIENTATION; 16-bit samples reduced by round(v / 257), not OpenCV's v >> 8); resize the whole "
      "image "
      "to {0} x {0} (aspect ratio not kept) with {1}; feed uint8 N x {0} x {0} x 3 (NHWC, RGB). Inside the graph: "
      "center crop to {2} x {2}, x / 255, (x - mean) / std",
      side, filter, cfg.data.image_size);
}

std::string numbers(const std::vector<double>& values) { return fmt::format("{:.9g}", fmt::join(values, ",")); }

}  // namespace

int exportInputSide(const Config& cfg) { return cfg.data.resize > 0 ? cfg.data.resize : cfg.data.image_size; }

std::map<std::string, std::string> exportMetadata(const Config& cfg, const DecisionFacts& decision) {
  const int side = exportInputSide(cfg);
  const std::string yaml = dumpConfig(cfg);
  return {
      {"shiftad_version", SHIFTAD_VERSION},
      {"arch", toString(cfg.model.arch)},
      {"variant", cfg.run.variant},
      {"config_hash", fmt::format("{:016x}", fnv1a(std::string_view(yaml)))},
      {"config", yaml},
      {"input_layout", "NHWC"},
      {"input_type", "uint8"},
      {"input_color", "RGB"},
      {"input_side", std::to_string(side)},
      {"resize_filter", resizeFilter(cfg.data.interpolation)},
      {"crop_side", std::to_string(cfg.data.image_size)},
      {"mean", numbers(cfg.data.mean)},
      {"std", numbers(cfg.data.std)},
      {"preprocessing", resizeInstruction(cfg, side)},
      {"score", "squared distance ||F(x) - c||^2 to the Deep SVDD center c (higher = more anomalous)"},
      {"score_center", toString(decision.center_used)},
      // "nan" when the run has no calibration and its data could not be read to make one.
      // The shortest text that reads back as the same double: with 9 digits a score equal
      // to the threshold (a calibration normal's, under a quantile rule) was anomalous to
      // a program reading it and normal to shiftad.
      {"threshold", fmt::format("{}", decision.threshold)},
      {"threshold_rule", decision.rule},
      {"threshold_fell_back", decision.fell_back ? "true" : "false"},
      {"threshold_quantile", fmt::format("{}", decision.quantile)},
      {"decision", "anomalous when score > threshold (set without labels at the end of training; docs/deploy.md)"},
  };
}

}  // namespace shiftad::exporting
