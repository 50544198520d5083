// InputCache: rows held per key and file, recalled in the caller's order.
#include <algorithm>
#include <filesystem>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "api/Features.h"
#include "api/InputCache.h"
#include "common/Error.h"
#include "data/ImageTensors.h"
#include "support/SyntheticRuns.h"

namespace {

shiftad::io::FeatureRows rowsOf(const std::vector<float>& firsts, const std::vector<bool>& valid) {
  shiftad::io::FeatureRows r;
  r.features = torch::zeros({static_cast<int64_t>(firsts.size()), 2});
  r.valid = torch::zeros({static_cast<int64_t>(firsts.size())}, torch::kBool);
  for (size_t i = 0; i < firsts.size(); ++i) {
    r.features[static_cast<int64_t>(i)][0] = firsts[i];
    r.valid[static_cast<int64_t>(i)] = static_cast<bool>(valid[i]);
  }
  return r;
}

}  // namespace

TEST(InputCache, RecallsHeldRowsInTheAskedOrderWithUnreadableFilesApart) {
  shiftad::api::InputCache cache;
  cache.remember("k", {"a", "b", "c"}, rowsOf({1, 2, 3}, {true, false, true}));
  shiftad::api::FeatureSet out;
  ASSERT_TRUE(cache.recall("k", {"c", "b", "a"}, out));
  EXPECT_EQ(out.paths, (std::vector<std::string>{"c", "a"}));
  EXPECT_EQ(out.skipped, (std::vector<std::string>{"b"}));
  ASSERT_EQ(out.features.size(0), 2);
  EXPECT_EQ(out.features[0][0].item<float>(), 3.0f);
  EXPECT_EQ(out.features[1][0].item<float>(), 1.0f);
  EXPECT_FALSE(cache.recall("other key", {"a"}, out));
  EXPECT_EQ(cache.missing("k", {"a", "d", "b", "e"}), (std::vector<std::string>{"d", "e"}));
}

TEST(InputCache, AMissLeavesTheOutputAsItWas) {
  // A chunk of which only some files are held: the caller computes the missing rows and
  // recalls again into the same FeatureSet. Rows of the held files must not be left in
  // it from the failed recall (they were, and scores were paired with the wrong paths).
  shiftad::api::InputCache cache;
  cache.remember("k", {"a"}, rowsOf({1}, {true}));
  shiftad::api::FeatureSet out;
  out.paths = {"previous"};
  out.features = torch::full({1, 2}, 9.0);
  EXPECT_FALSE(cache.recall("k", {"a", "b"}, out));
  EXPECT_EQ(out.paths, (std::vector<std::string>{"previous"}));
  EXPECT_TRUE(out.skipped.empty());
  EXPECT_EQ(out.features[0][0].item<float>(), 9.0f);

  cache.remember("k", {"b"}, rowsOf({2}, {true}));
  ASSERT_TRUE(cache.recall("k", {"a", "b"}, out));
  EXPECT_EQ(out.paths, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(out.features[1][0].item<float>(), 2.0f);

  cache.forget({"a"});
  EXPECT_FALSE(cache.recall("k", {"a", "b"}, out));
  EXPECT_EQ(out.paths, (std::vector<std::string>{"a", "b"}));
}

TEST(InputCache, AFitsImagesAreCheckedAgainstMemoryAllAtOnceBeforeAnyIsDecoded) {
  // 10 source and 20 pool images at 100 x 100: 30,000 bytes each, two copies of each
  // image to decode (the cache's and the trainer's batch), one of each already held.
  shiftad::Config cfg;
  cfg.data.resize = 100;
  std::vector<std::string> source, pool;
  for (int i = 0; i < 10; ++i) source.push_back("s" + std::to_string(i));
  for (int i = 0; i < 20; ++i) pool.push_back("p" + std::to_string(i));
  shiftad::api::InputCache cache;
  // 1.8 MB: the source alone (0.6 MB) would pass, the run does not.
  try {
    shiftad::api::checkFitDecodesInMemory(cache, cfg, {source, pool}, 1'799'999);
    ADD_FAILURE() << "not refused";
  } catch (const shiftad::Error& e) {
    EXPECT_NE(std::string(e.what()).find("the 30 images of this training (source and pool) at 100 x 100 pixels"),
              std::string::npos)
        << e.what();
  }
  EXPECT_NO_THROW(shiftad::api::checkFitDecodesInMemory(cache, cfg, {source, pool}, 1'800'000));
  EXPECT_NO_THROW(shiftad::api::checkFitDecodesInMemory(cache, cfg, {source, pool}, std::nullopt));
  // The source held in memory (an earlier run of a bench): 0.3 + 1.2 MB.
  shiftad::io::FeatureRows rows{torch::zeros({10, 30000}, torch::kUInt8), torch::ones({10}, torch::kUInt8)};
  cache.remember(shiftad::api::imagesKey(100, cfg.data.interpolation), source, rows);
  EXPECT_NO_THROW(shiftad::api::checkFitDecodesInMemory(cache, cfg, {source, pool}, 1'500'000));
  EXPECT_THROW(shiftad::api::checkFitDecodesInMemory(cache, cfg, {source, pool}, 1'499'999), shiftad::Error);
}

TEST(InputCache, FeaturesAreEmbeddedAChunkAtATimeAsAllAtOnceAndThePixelsDecodedForThemLetGo) {
  // A run that trains the head alone needs the pool's features, not its pixels, which it
  // held whole for the whole run (about 3x their bytes: 1.5 GB for 35,200 images at 64 px).
  std::vector<std::string> paths;
  for (const auto& e : std::filesystem::recursive_directory_iterator(shiftad::test::smallSynthRoot() + "/target"))
    if (e.is_regular_file()) paths.push_back(e.path().string());
  std::sort(paths.begin(), paths.end());
  ASSERT_EQ(paths.size(), 60u);
  shiftad::Config cfg;
  cfg.model.width = 8;
  cfg.data.image_size = 32;
  const auto all = shiftad::data::loadImages(paths, 32, 1, cfg.data.interpolation);
  ASSERT_EQ(all.paths, paths);
  const auto at_once = shiftad::api::trunkFeaturesOf(cfg, all.images);  // the oracle: one call, every image
  shiftad::api::InputCache cache;
  cache.setDiskCaches(false);
  cache.setEmbedChunk(20);  // whole batches: 32 images, then 28
  const std::vector<std::string> held(paths.begin(), paths.begin() + 5);
  (void)shiftad::api::loadImagesOnce(cache, cfg, held, 32, cfg.data.interpolation);  // another user's pixels
  const auto f = shiftad::api::trunkFeatures(cache, cfg, paths);
  EXPECT_EQ(f.paths, paths);
  ASSERT_TRUE(f.features.defined());
  EXPECT_TRUE(torch::equal(f.features, at_once)) << "chunked features differ from all at once";
  const auto pixels = shiftad::api::imagesKey(32, cfg.data.interpolation);
  EXPECT_EQ(cache.missing(pixels, paths), std::vector<std::string>(paths.begin() + 5, paths.end()))
      << "the pixels decoded for the features are let go, those held before kept";
}
