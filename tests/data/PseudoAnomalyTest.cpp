// Pseudo-anomaly augmentations: what each one may and may not change, checked on
// random-noise images (where coincidental equal pixels are vanishingly rare) and on a
// hand-made 2x2-tile image.
#include <functional>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/Error.h"
#include "data/PseudoAnomaly.h"

using namespace shiftad::data;

namespace {

torch::Generator seeded(uint64_t seed) { return at::make_generator<at::CPUGeneratorImpl>(seed); }

torch::Tensor noiseImages(int64_t n, int64_t h, int64_t w, uint64_t seed) {
  torch::Generator gen = seeded(seed);
  return torch::randint(256, {n, 3, h, w}, gen, torch::kUInt8);
}

/// H x W mask of the pixels where any channel differs.
torch::Tensor changedPixels(const torch::Tensor& a, const torch::Tensor& b) { return (a != b).any(0); }

double changedFraction(const torch::Tensor& a, const torch::Tensor& b) {
  return changedPixels(a, b).to(torch::kDouble).mean().item<double>();
}

torch::Tensor tile(const torch::Tensor& image, int64_t g, int64_t t) {
  const int64_t th = image.size(1) / g, tw = image.size(2) / g, r = t / g, c = t % g;
  return image.slice(1, r * th, (r + 1) * th).slice(2, c * tw, (c + 1) * tw);
}

/// Whether the g x g tiles of `out` are those of `in`, each used once, in any order.
bool sameTileMultiset(const torch::Tensor& in, const torch::Tensor& out, int64_t g) {
  std::vector<bool> used(g * g, false);
  for (int64_t t = 0; t < g * g; ++t) {
    bool found = false;
    for (int64_t s = 0; s < g * g && !found; ++s) {
      if (!used[s] && torch::equal(tile(out, g, t), tile(in, g, s))) used[s] = found = true;
    }
    if (!found) return false;
  }
  return true;
}

struct Box {
  int64_t top = 0, left = 0, height = 0, width = 0;
};

/// Bounding box of the changed pixels (empty box if none changed).
Box changedBox(const torch::Tensor& in, const torch::Tensor& out) {
  const torch::Tensor where = changedPixels(in, out).nonzero();
  if (where.size(0) == 0) return {};
  const int64_t top = where.select(1, 0).min().item<int64_t>(), left = where.select(1, 1).min().item<int64_t>();
  return {top, left, where.select(1, 0).max().item<int64_t>() - top + 1,
          where.select(1, 1).max().item<int64_t>() - left + 1};
}

/// Whether `out` is `in` with one rectangle replaced by a same-sized rectangle copied
/// from elsewhere in `in`: everything outside the changed box is untouched, and the box
/// holds pixels found at another offset of the source.
bool isCutPaste(const torch::Tensor& in, const torch::Tensor& out) {
  const Box b = changedBox(in, out);
  if (b.height == 0) return false;
  torch::Tensor restored = out.clone();
  const torch::Tensor pasted = out.slice(1, b.top, b.top + b.height).slice(2, b.left, b.left + b.width);
  restored.slice(1, b.top, b.top + b.height)
      .slice(2, b.left, b.left + b.width)
      .copy_(in.slice(1, b.top, b.top + b.height).slice(2, b.left, b.left + b.width));
  if (!torch::equal(restored, in)) return false;
  for (int64_t y = 0; y + b.height <= in.size(1); ++y)
    for (int64_t x = 0; x + b.width <= in.size(2); ++x)
      if ((y != b.top || x != b.left) && torch::equal(in.slice(1, y, y + b.height).slice(2, x, x + b.width), pasted))
        return true;
  return false;
}

void expectError(const std::function<void()>& fn, const std::string& fragment) {
  try {
    fn();
    ADD_FAILURE() << "expected shiftad::Error containing \"" << fragment << "\"";
  } catch (const shiftad::Error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what() << "\n lacks: " << fragment;
  }
}

using Augment = std::function<torch::Tensor(const torch::Tensor&, torch::Generator&)>;

std::vector<std::pair<std::string, Augment>> allAugmentations() {
  return {
      {"patchShuffle", [](const torch::Tensor& x, torch::Generator& g) { return patchShuffle(x, 4, g); }},
      {"cutPaste", [](const torch::Tensor& x, torch::Generator& g) { return cutPaste(x, g); }},
      {"colorDistort", [](const torch::Tensor& x, torch::Generator& g) { return colorDistort(x, 1.0, g); }},
      {"makePseudoAnomalies", [](const torch::Tensor& x, torch::Generator& g) { return makePseudoAnomalies(x, g); }}};
}

}  // namespace

TEST(PseudoAnomaly, PatchShuffleHandCase2x2) {
  // 4x4 image, 2x2 grid: tile t (row-major) holds 10 (t + 1) + channel everywhere.
  torch::Tensor image = torch::empty({1, 3, 4, 4}, torch::kUInt8);
  for (int64_t t = 0; t < 4; ++t)
    for (int64_t c = 0; c < 3; ++c) tile(image[0], 2, t)[c].fill_(10 * (t + 1) + c);
  std::set<std::vector<int64_t>> seen;
  for (uint64_t seed = 0; seed < 40; ++seed) {
    torch::Generator gen = seeded(seed);
    const torch::Tensor out = patchShuffle(image, 2, gen)[0];
    std::vector<int64_t> order;  // which input tile each output tile came from
    for (int64_t t = 0; t < 4; ++t) {
      const torch::Tensor piece = tile(out, 2, t);
      const int64_t from = piece[0][0][0].item<int64_t>() / 10 - 1;
      ASSERT_TRUE(from >= 0 && from < 4) << seed;
      EXPECT_TRUE(torch::equal(piece, tile(image[0], 2, from))) << "tile " << t << " is not a whole input tile";
      order.push_back(from);
    }
    EXPECT_EQ(std::set<int64_t>(order.begin(), order.end()).size(), 4u) << "tiles lost or duplicated, seed " << seed;
    EXPECT_NE(order, (std::vector<int64_t>{0, 1, 2, 3})) << "identity permutation, seed " << seed;
    seen.insert(order);
  }
  EXPECT_GT(seen.size(), 10u);  // 40 draws spread over the 23 non-identity permutations
}

TEST(PseudoAnomaly, PatchShuffleIsATilePermutation) {
  // 30 = 4 * 7 + 2: tiles of 7x7 pixels, the last 2 rows and columns stay in place.
  const torch::Tensor in = noiseImages(6, 30, 30, 1);
  torch::Generator gen = seeded(2);
  const torch::Tensor out = patchShuffle(in, 4, gen);
  for (int64_t n = 0; n < in.size(0); ++n) {
    const torch::Tensor region_in = in[n].slice(1, 0, 28).slice(2, 0, 28);
    const torch::Tensor region_out = out[n].slice(1, 0, 28).slice(2, 0, 28);
    EXPECT_TRUE(sameTileMultiset(region_in, region_out, 4)) << n;
    EXPECT_FALSE(torch::equal(region_in, region_out)) << n;
    EXPECT_TRUE(torch::equal(in[n].slice(1, 28), out[n].slice(1, 28))) << n;
    EXPECT_TRUE(torch::equal(in[n].slice(2, 28), out[n].slice(2, 28))) << n;
  }
}

TEST(PseudoAnomaly, CutPasteChangesOnlyOneRectangle) {
  const torch::Tensor in = noiseImages(16, 48, 48, 3);
  torch::Generator gen = seeded(4);
  const torch::Tensor out = cutPaste(in, gen);
  for (int64_t n = 0; n < in.size(0); ++n) {
    EXPECT_TRUE(isCutPaste(in[n], out[n])) << n;
    // Area 2%-15% of the image and aspect 0.3-3.3, up to rounding of the sides.
    const Box b = changedBox(in[n], out[n]);
    const double area = static_cast<double>(b.height * b.width) / (48.0 * 48.0);
    const double aspect = static_cast<double>(b.width) / static_cast<double>(b.height);
    EXPECT_GE(area, 0.015) << n;
    EXPECT_LE(area, 0.17) << n;
    EXPECT_GE(aspect, 0.25) << n;
    EXPECT_LE(aspect, 4.0) << n;
  }
}

TEST(PseudoAnomaly, ColorDistortIsStrongAndPerImage) {
  const torch::Tensor in = noiseImages(16, 16, 16, 5);
  torch::Generator gen = seeded(6);
  const torch::Tensor out = colorDistort(in, 1.0, gen);
  for (int64_t n = 0; n < in.size(0); ++n) EXPECT_GT(changedFraction(in[n], out[n]), 0.5) << n;
  // A flat grey image has nothing to permute, yet still changes (inversion or gains).
  const torch::Tensor grey = torch::full({8, 3, 4, 4}, 128, torch::kUInt8);
  const torch::Tensor grey_out = colorDistort(grey, 1.0, gen);
  for (int64_t n = 0; n < grey.size(0); ++n) EXPECT_GT(changedFraction(grey[n], grey_out[n]), 0.0) << n;
}

TEST(PseudoAnomaly, EveryAugmentationKeepsShapeTypeAndChangesEveryImage) {
  const torch::Tensor in = noiseImages(12, 32, 24, 7);
  const torch::Tensor copy = in.clone();
  for (const auto& [name, augment] : allAugmentations()) {
    SCOPED_TRACE(name);
    torch::Generator gen = seeded(8);
    const torch::Tensor out = augment(in, gen);
    EXPECT_EQ(out.sizes(), in.sizes());
    EXPECT_EQ(out.scalar_type(), torch::kUInt8);
    EXPECT_TRUE(out.is_contiguous());
    EXPECT_TRUE(torch::equal(in, copy)) << "input modified";
    // At least 1.5% of the pixels: the smallest cut-paste rectangle is 2% (rounded).
    for (int64_t n = 0; n < in.size(0); ++n) EXPECT_GT(changedFraction(in[n], out[n]), 0.015) << n;
    // An empty batch passes through.
    EXPECT_EQ(augment(in.slice(0, 0, 0), gen).sizes(), (std::vector<int64_t>{0, 3, 32, 24}));
  }
}

TEST(PseudoAnomaly, MakePseudoAnomaliesAppliesOneOfTheThreePerImage) {
  const torch::Tensor in = noiseImages(30, 32, 32, 9);
  torch::Generator gen = seeded(10);
  const torch::Tensor out = makePseudoAnomalies(in, gen);
  int shuffled = 0, pasted = 0, coloured = 0;
  for (int64_t n = 0; n < in.size(0); ++n) {
    if (sameTileMultiset(in[n], out[n], 4))
      ++shuffled;
    else if (isCutPaste(in[n], out[n]))
      ++pasted;
    else if (changedFraction(in[n], out[n]) > 0.5)
      ++coloured;
    else
      ADD_FAILURE() << "image " << n << " matches none of the three augmentations";
  }
  EXPECT_GT(shuffled, 0);
  EXPECT_GT(pasted, 0);
  EXPECT_GT(coloured, 0);
}

TEST(PseudoAnomaly, DeterministicForAGeneratorSeed) {
  const torch::Tensor in = noiseImages(8, 20, 20, 11);
  for (const auto& [name, augment] : allAugmentations()) {
    SCOPED_TRACE(name);
    torch::Generator a = seeded(42), b = seeded(42), c = seeded(43);
    const torch::Tensor first = augment(in, a);
    EXPECT_TRUE(torch::equal(first, augment(in, b)));
    EXPECT_FALSE(torch::equal(first, augment(in, c)));
  }
}

TEST(PseudoAnomaly, Errors) {
  torch::Generator gen = seeded(0);
  const torch::Tensor images = torch::zeros({2, 3, 8, 8}, torch::kUInt8);
  expectError([&] { patchShuffle(images.to(torch::kFloat), 2, gen); },
              "patchShuffle: expected uint8 images, got Float");
  expectError(
      [&] {
        cutPaste(torch::zeros({2, 1, 8, 8}, torch::kUInt8), gen);
      },
      "cutPaste: expected an N x 3 x H x W batch, got shape [2, 1, 8, 8]");
  expectError([&] { patchShuffle(images, 1, gen); }, "patchShuffle: grid must be >= 2");
  expectError([&] { patchShuffle(images, 9, gen); }, "patchShuffle: images of 8x8 pixels are too small for a 9x9 grid");
  expectError(
      [&] {
        cutPaste(torch::zeros({1, 3, 1, 8}, torch::kUInt8), gen);
      },
      "cutPaste: images of 1x8 pixels are too small; need at least 2x2");
  CutPasteParams bad_area;
  bad_area.area_max = 1.0;
  expectError([&] { cutPaste(images, gen, bad_area); },
              "cutPaste: need 0 < area_min <= area_max < 1, got area_min = 0.02, area_max = 1");
  CutPasteParams bad_aspect;
  bad_aspect.aspect_min = 4.0;
  expectError([&] { cutPaste(images, gen, bad_aspect); }, "cutPaste: need 0 < aspect_min <= aspect_max");
  expectError([&] { colorDistort(images, 0.0, gen); }, "colorDistort: colour strength must be > 0, got 0");
  PseudoAnomalyParams bad_grid;
  bad_grid.grid = 16;
  expectError([&] { makePseudoAnomalies(images, gen, bad_grid); },
              "makePseudoAnomalies: images of 8x8 pixels are too small for a 16x16 grid");
}
