#include "data/ConfigSplit.h"

#include <filesystem>
#include <system_error>

#include "common/Error.h"
#include "data/ImageFolder.h"

namespace shiftad::data {
namespace {

namespace fs = std::filesystem;

void checkDataConfig(const DataConfig& d) {
  SHIFTAD_CHECK(!d.root.empty(), "config: data.root is empty; set it to an ImageFolder root (ROOT/DOMAIN/CLASS/image)");
  SHIFTAD_CHECK(!d.source.empty() && (!d.target.empty() || !d.pool_images.empty()),
                "config: data.source and data.target must name domains under '{}' (or data.pool_images the unlabeled "
                "target images)",
                d.root);
  SHIFTAD_CHECK(!d.normal_class.empty(), "config: data.normal_class is empty; name the class that is normal");
}

/// data.test_images' labelled images: the folder's class folders.
LabelledImages testImagesOf(const DataConfig& d) {
  std::error_code ec;
  SHIFTAD_CHECK(fs::is_directory(d.test_images, ec),
                "data.test_images '{}' is not a folder; give a folder of class folders (FOLDER/CLASS/image: the "
                "normal class '{}' and anomaly classes)",
                d.test_images, d.normal_class);
  return labelledImages(listClassFolders(d.test_images), d.normal_class, "data.test_images '" + d.test_images + "'");
}

ProtocolSplit protocolSplit(const DataConfig& d) {
  if (!d.pool_images.empty())
    return unlabeledSplit(listDomain(d.root, d.source), listImages(d.pool_images), d.normal_class);
  ProtocolParams p;
  p.normal_class = d.normal_class;
  p.pool_fraction = d.pool_fraction;
  p.contamination = d.contamination;
  p.seed = d.split_seed;
  // Source first: in the call's arguments the order is the compiler's (GCC listed the
  // target first), and the first problem reported should be the source's.
  const auto source = listDomain(d.root, d.source);
  const auto target = listDomain(d.root, d.target);
  return makeSplit(source, target, p);
}

}  // namespace

ProtocolSplit splitAllowingLeaks(const DataConfig& d) {
  checkDataConfig(d);
  auto split = protocolSplit(d);
  if (!d.test_images.empty()) split.test = testImagesOf(d);
  return split;
}

ProtocolSplit splitFor(const DataConfig& d) {
  auto split = splitAllowingLeaks(d);
  if (split.test.paths.empty()) return split;  // an unlabeled pool alone: no test split to leak into
  // A test image that training saw makes every figure of the run meaningless.
  const std::string leak = leakProblem(split, d.source, d.target, d.test_images);
  SHIFTAD_CHECK(leak.empty(), "config: {}", leak);
  return split;
}

LabelledImages testSplitFor(const DataConfig& d) {
  if (d.test_images.empty()) return splitFor(d).test;
  SHIFTAD_CHECK(!d.normal_class.empty(), "config: data.normal_class is empty; name the class that is normal");
  return testImagesOf(d);
}

}  // namespace shiftad::data
