#include "api/PreprocessingCheck.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <sstream>
#include <tuple>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "common/LogOnce.h"
#include "io/SafeTensorsFormat.h"

namespace shiftad::api {
namespace {

/// "0.485,0.456,0.406" or "[0.485, 0.456, 0.406]" as numbers; nullopt if not 1 or 3 of them.
std::optional<std::vector<double>> numbers(std::string text) {
  std::replace_if(
      text.begin(), text.end(), [](char c) { return c == ',' || c == '[' || c == ']'; }, ' ');
  std::istringstream in(text);
  std::vector<double> out;
  for (double v; in >> v;) out.push_back(v);
  if (!in.eof() || (out.size() != 1 && out.size() != 3)) return std::nullopt;
  return out;
}

bool differs(const std::vector<double>& recorded, const std::vector<double>& given) {
  if (recorded.size() != given.size() && recorded.size() != 1) return true;
  for (size_t i = 0; i < given.size(); ++i)
    if (std::abs(recorded[recorded.size() == 1 ? 0 : i] - given[i]) > 0.01) return true;  // 0.50196 (128/255) is 0.5
  return false;
}

void compareWithWeights(const Config& cfg) {
  std::map<std::string, std::string> metadata;
  try {
    metadata = io::SafeTensorsReader(cfg.model.weights).header().metadata;
  } catch (const std::exception&) {
    return;  // the load says what is wrong with the file
  }
  const auto& d = cfg.data;
  const auto say = [&](const std::string& what) {
    logOnce(spdlog::level::warn, fmt::format("model.weights '{}' records {}; F sees its images otherwise than it was "
                                             "trained to (set data.* as the file says, unless you mean it)",
                                             cfg.model.weights, what));
  };
  if (const auto it = metadata.find("input_size"); it != metadata.end())
    if (const auto side = numbers(it->second); side && side->size() == 1 && std::abs((*side)[0] - d.image_size) > 0.5)
      say(fmt::format("input_size {}, and data.image_size is {}", it->second, d.image_size));
  for (const auto& [key, given, name] :
       {std::tuple{"normalize_mean", &d.mean, "data.mean"}, std::tuple{"normalize_std", &d.std, "data.std"}})
    if (const auto it = metadata.find(key); it != metadata.end())
      if (const auto recorded = numbers(it->second); recorded && differs(*recorded, *given))
        say(fmt::format("{} {}, and {} is [{}]", key, it->second, name, fmt::join(*given, ", ")));
}

}  // namespace

void warnAboutPreprocessing(const Config& cfg) {
  const auto& d = cfg.data;
  const bool mean255 = std::any_of(d.mean.begin(), d.mean.end(), [](double v) { return v > 1.0; });
  const bool std255 = std::any_of(d.std.begin(), d.std.end(), [](double v) { return v > 5.0; });
  if (mean255 || std255)
    logOnce(spdlog::level::warn,
            fmt::format("data.mean [{}] and data.std [{}] look like values on the 0-255 scale, but shiftad normalises "
                        "pixels in [0, 1] as (x - mean) / std: divide them by 255 (e.g. ImageNet's [0.485, 0.456, "
                        "0.406] and [0.229, 0.224, 0.225])",
                        fmt::join(d.mean, ", "), fmt::join(d.std, ", ")));
  if (!cfg.model.weights.empty()) compareWithWeights(cfg);
}

}  // namespace shiftad::api
