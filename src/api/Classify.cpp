// `shiftad classify`: check that weights, preprocessing and architecture agree by
// looking at a pretrained classifier's top-k classes for one image.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include <torch/torch.h>

#include "common/Error.h"
#include "common/Number.h"
#include "data/ImageTensors.h"
#include "io/SafeTensors.h"
#include "models/MobileNetV2.h"
#include "shiftad/shiftad.h"

namespace shiftad {
namespace {

namespace fs = std::filesystem;

/// The input sides a classifier's metadata may name: below 8 px MobileNetV2's strided
/// stages have nothing left; above 4096 one image needs gigabytes of activations.
constexpr int kMinSide = 8;
constexpr int kMaxSide = 4096;
/// A list of class names (ImageNet's 1000 take 10 KB).
constexpr uintmax_t kMaxLabelsBytes = uintmax_t{1} << 20;

/// `text` as a finite number, the whole of it, or nullopt.
std::optional<double> finiteNumber(const std::string& text) {
  const auto v = parseNumber<double>(text);  // not strtod: a host's locale can make "0.5" 0
  if (!v || !std::isfinite(*v)) return std::nullopt;
  return v;
}

[[noreturn]] void badMetadata(const std::string& weights_path, const std::string& key, const std::string& value,
                              const std::string& expected) {
  SHIFTAD_THROW("'{}': metadata {} = '{}': expected {}; fix the key or remove it (then the ImageNet default is used)",
                weights_path, key, value, expected);
}

/// "a,b,c" from the weights' metadata (three finite numbers; positive ones for a std),
/// else the default (torchvision's ImageNet values).
std::vector<double> listFromMetadata(const std::string& weights_path, const std::map<std::string, std::string>& md,
                                     const std::string& key, std::vector<double> fallback, bool positive) {
  const auto it = md.find(key);
  if (it == md.end()) return fallback;
  const std::string expected = positive ? "3 comma-separated positive numbers" : "3 comma-separated numbers";
  std::vector<double> out;
  std::stringstream ss(it->second);
  for (std::string item; std::getline(ss, item, ',');) {
    const auto v = finiteNumber(item);
    if (!v || (positive && *v <= 0)) badMetadata(weights_path, key, it->second, expected);
    out.push_back(*v);
  }
  if (out.size() != 3) badMetadata(weights_path, key, it->second, expected);
  return out;
}

/// The input side from the weights' metadata, else 224.
int inputSide(const std::string& weights_path, const std::map<std::string, std::string>& md) {
  const auto it = md.find("input_size");
  if (it == md.end()) return 224;
  const auto v = finiteNumber(it->second);
  if (!v || *v != std::floor(*v) || *v < kMinSide || *v > kMaxSide)
    badMetadata(weights_path, "input_size", it->second, fmt::format("an integer in [{}, {}]", kMinSide, kMaxSide));
  return static_cast<int>(*v);
}

/// The class names, one per line (a final '\r' of CRLF files dropped), checked against
/// the classifier: a file of another length would name every class wrongly, and a
/// binary file (control bytes, e.g. NUL) is no list of names at all.
std::vector<std::string> readLabels(const std::string& path, int64_t num_classes) {
  if (path.empty()) return {};
  // Before opening: a FIFO would block the open, a device (/dev/zero) never ends; a
  // list of class names is small.
  std::error_code ec;
  SHIFTAD_CHECK(fs::is_regular_file(path, ec),
                "labels file '{}' does not exist or is not a regular file (a pipe, socket, device or folder); "
                "--labels expects a text file with one class name per line",
                path);
  const auto size = fs::file_size(path, ec);
  SHIFTAD_CHECK(!ec && size <= kMaxLabelsBytes,
                "labels file '{}' is {} bytes, more than a list of class names holds (limit {}); is it the right "
                "file?",
                path, size, kMaxLabelsBytes);
  std::ifstream f(path, std::ios::binary);
  SHIFTAD_CHECK(f.good(), "labels file '{}' cannot be read", path);
  std::vector<std::string> labels;
  for (std::string line; std::getline(f, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto control = std::find_if(line.begin(), line.end(), [](char c) {
      const auto u = static_cast<unsigned char>(c);
      return (u < 0x20 && c != '\t') || u == 0x7f;
    });
    SHIFTAD_CHECK(control == line.end(),
                  "labels file '{}', line {}: control byte 0x{:02x}; --labels expects a text file with one class "
                  "name per line (is it a binary file?)",
                  path, labels.size() + 1, static_cast<unsigned char>(*control));
    labels.push_back(line);
  }
  SHIFTAD_CHECK(static_cast<int64_t>(labels.size()) == num_classes,
                "labels file '{}' has {} line(s) but the classifier has {} classes: --labels needs one class name "
                "per line, in index order",
                path, labels.size(), num_classes);
  return labels;
}

}  // namespace

std::vector<ClassScore> classify(const std::string& weights_path, const std::string& image_path,
                                 const std::string& labels_path, int topk) {
  const auto weights = io::readSafeTensors(weights_path);
  const auto cls = weights.tensors.find("classifier.1.weight");
  SHIFTAD_CHECK(
      cls != weights.tensors.end() && cls->second.dim() == 2,
      "'{}' has no classifier.1.weight: classify supports MobileNetV2 classifiers (torchvision names) for now",
      weights_path);
  const int64_t num_classes = cls->second.size(0);
  const auto labels = readLabels(labels_path, num_classes);  // before any work: a wrong file fails at once
  models::MobileNetV2 net(/*embedding_dim=*/2, static_cast<int>(num_classes),
                          models::paddingFromMetadata(weights.metadata, "'" + weights_path + "'"));
  const auto report = io::loadIntoModule(net, weights, "", /*strict=*/false);
  SHIFTAD_CHECK(report.unexpected.empty() && report.mismatched.empty() &&
                    report.missing == std::vector<std::string>{"head.0.weight"},
                "'{}' is not a complete MobileNetV2 classifier ({} missing, {} unexpected, {} mis-shaped tensors)",
                weights_path, report.missing.size() - 1, report.unexpected.size(), report.mismatched.size());
  net.eval();

  const int side = inputSide(weights_path, weights.metadata);
  const auto mean = listFromMetadata(weights_path, weights.metadata, "normalize_mean", {0.485, 0.456, 0.406}, false);
  const auto std = listFromMetadata(weights_path, weights.metadata, "normalize_std", {0.229, 0.224, 0.225}, true);
  // One image: unreadable, it is the error, with its reason (loadImages would warn that
  // it skips it, and the last line said only "cannot be decoded").
  data::readDecodableBytes(image_path);
  const auto batch = data::loadImages({image_path}, side, 1);
  SHIFTAD_CHECK(!batch.paths.empty(), "image '{}' cannot be decoded", image_path);

  torch::NoGradGuard ng;
  const auto probs = torch::softmax(net.logits(data::normalize(batch.images, mean, std)), 1)[0];
  SHIFTAD_CHECK(torch::isfinite(probs).all().item<bool>(),
                "'{}': the classifier's output is not finite (NaN or Inf) on '{}': the weights load but are invalid "
                "(e.g. a negative BatchNorm variance, or values near the float limit); restore or re-convert them",
                weights_path, image_path);
  const auto top = probs.topk(std::min<int64_t>(topk, num_classes));
  std::vector<ClassScore> out;
  for (int64_t i = 0; i < std::get<1>(top).size(0); ++i) {
    const int64_t k = std::get<1>(top)[i].item<int64_t>();
    out.push_back({k, k < static_cast<int64_t>(labels.size()) ? labels[static_cast<size_t>(k)] : std::to_string(k),
                   std::get<0>(top)[i].item<double>()});
  }
  return out;
}

}  // namespace shiftad
