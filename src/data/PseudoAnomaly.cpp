#include "data/PseudoAnomaly.h"

#include <algorithm>
#include <array>
#include <cmath>

#include <torch/torch.h>

#include "common/Error.h"

namespace shiftad::data {
namespace {

void checkImages(const char* fn, const torch::Tensor& images) {
  SHIFTAD_CHECK(images.defined() && images.dim() == 4 && images.size(1) == 3,
                "{}: expected an N x 3 x H x W batch, got shape {}", fn,
                images.defined() ? c10::str(images.sizes()) : std::string("undefined"));
  SHIFTAD_CHECK(images.scalar_type() == torch::kUInt8, "{}: expected uint8 images, got {}", fn,
                c10::toString(images.scalar_type()));
}

torch::Tensor contiguousCopy(const torch::Tensor& images) { return images.clone(torch::MemoryFormat::Contiguous); }

// N random permutations of 0..t-1 (N x t), none the identity: an identity draw would
// return a normal image labelled anomalous. Rejection keeps the others uniform.
torch::Tensor nonIdentityPermutations(int64_t n, int64_t t, torch::Generator& gen) {
  const torch::Tensor identity = torch::arange(t, torch::kLong);
  torch::Tensor perms = torch::empty({n, t}, torch::kLong);
  for (int64_t i = 0; i < n; ++i) {
    torch::Tensor p = torch::randperm(t, gen, torch::kLong);
    while (torch::equal(p, identity)) p = torch::randperm(t, gen, torch::kLong);
    perms[i].copy_(p);
  }
  return perms;
}

struct Rect {
  int64_t height, width;
};

// CutPaste's rectangle: area fraction uniform in [area_min, area_max], aspect
// (width / height) log-uniform in [aspect_min, aspect_max], so that r and 1/r are
// equally likely; sides rounded, at least 1, and never the whole image.
Rect sampleRect(int64_t H, int64_t W, const CutPasteParams& p, double u_area, double u_aspect) {
  const double area = static_cast<double>(H * W) * (p.area_min + (p.area_max - p.area_min) * u_area);
  const double aspect = std::exp(std::log(p.aspect_min) + (std::log(p.aspect_max) - std::log(p.aspect_min)) * u_aspect);
  Rect r{std::clamp<int64_t>(std::llround(std::sqrt(area / aspect)), 1, H),
         std::clamp<int64_t>(std::llround(std::sqrt(area * aspect)), 1, W)};
  if (r.height == H && r.width == W) --r.width;  // only on tiny images; W >= 2 checked
  return r;
}

// Uniform offset in [0, range) from u in [0, 1).
int64_t offsetFrom(double u, int64_t range) {
  return std::min(range - 1, static_cast<int64_t>(u * static_cast<double>(range)));
}

void checkGrid(const char* fn, const torch::Tensor& images, int grid) {
  SHIFTAD_CHECK(grid >= 2, "{}: grid must be >= 2 (a 1 x 1 grid has nothing to shuffle), got {}", fn, grid);
  SHIFTAD_CHECK(images.size(2) >= grid && images.size(3) >= grid,
                "{}: images of {}x{} pixels are too small for a {}x{} grid", fn, images.size(2), images.size(3), grid,
                grid);
}

void checkCutPaste(const char* fn, const torch::Tensor& images, const CutPasteParams& p) {
  SHIFTAD_CHECK(images.size(2) >= 2 && images.size(3) >= 2,
                "{}: images of {}x{} pixels are too small; need at least 2x2", fn, images.size(2), images.size(3));
  SHIFTAD_CHECK(p.area_min > 0.0 && p.area_min <= p.area_max && p.area_max < 1.0,
                "{}: need 0 < area_min <= area_max < 1, got area_min = {}, area_max = {}", fn, p.area_min, p.area_max);
  SHIFTAD_CHECK(p.aspect_min > 0.0 && p.aspect_min <= p.aspect_max && std::isfinite(p.aspect_max),
                "{}: need 0 < aspect_min <= aspect_max, got aspect_min = {}, aspect_max = {}", fn, p.aspect_min,
                p.aspect_max);
}

void checkStrength(const char* fn, double strength) {
  SHIFTAD_CHECK(std::isfinite(strength) && strength > 0.0, "{}: colour strength must be > 0, got {}", fn, strength);
}

// The five non-identity permutations of (R, G, B).
constexpr std::array<std::array<int64_t, 3>, 5> kChannelPerms{{{0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}}};

// One image's colour change from its 8 uniforms: 3 gains, 3 offsets, mode, permutation.
torch::Tensor distortOne(const torch::Tensor& image, double strength, const double* u) {
  const int mode = std::min(2, static_cast<int>(u[6] * 3.0));  // 0: permute, 1: invert, 2: both
  torch::Tensor x = image.to(torch::kFloat32);
  if (mode != 1) {
    const auto& perm = kChannelPerms[std::min<size_t>(4, static_cast<size_t>(u[7] * 5.0))];
    x = x.index_select(0, torch::tensor({perm[0], perm[1], perm[2]}, torch::kLong));
  }
  std::array<float, 3> gain{}, offset{};
  for (int c = 0; c < 3; ++c) {
    gain[c] = static_cast<float>(std::exp(strength * std::log(3.0) * (2.0 * u[c] - 1.0)));
    offset[c] = static_cast<float>(64.0 * strength * (2.0 * u[3 + c] - 1.0));
  }
  x = x * torch::tensor({gain[0], gain[1], gain[2]}).view({3, 1, 1}) +
      torch::tensor({offset[0], offset[1], offset[2]}).view({3, 1, 1});
  x = x.clamp(0.0, 255.0);
  if (mode != 0) x = 255.0 - x;
  return x.round().to(torch::kUInt8);
}

}  // namespace

torch::Tensor patchShuffle(const torch::Tensor& images, int grid, torch::Generator& gen) {
  checkImages("patchShuffle", images);
  checkGrid("patchShuffle", images, grid);
  const int64_t N = images.size(0), H = images.size(2), W = images.size(3), g = grid;
  const int64_t th = H / g, tw = W / g;
  const torch::Tensor perms = nonIdentityPermutations(N, g * g, gen);
  // Tiles as N x (g*g) x 3 x th x tw (row-major tile order), reordered per image by
  // advanced indexing, then folded back.
  const torch::Tensor region = images.slice(2, 0, g * th).slice(3, 0, g * tw);
  const torch::Tensor tiles =
      region.reshape({N, 3, g, th, g, tw}).permute({0, 2, 4, 1, 3, 5}).reshape({N, g * g, 3, th, tw});
  const torch::Tensor shuffled = tiles.index({torch::arange(N, torch::kLong).unsqueeze(1), perms});
  torch::Tensor out = contiguousCopy(images);
  out.slice(2, 0, g * th)
      .slice(3, 0, g * tw)
      .copy_(shuffled.reshape({N, g, g, 3, th, tw}).permute({0, 3, 1, 4, 2, 5}).reshape({N, 3, g * th, g * tw}));
  return out;
}

torch::Tensor cutPaste(const torch::Tensor& images, torch::Generator& gen, const CutPasteParams& params) {
  checkImages("cutPaste", images);
  checkCutPaste("cutPaste", images, params);
  const int64_t N = images.size(0), H = images.size(2), W = images.size(3);
  // All randomness drawn at once: area, aspect, source top/left, destination top/left.
  const torch::Tensor u = torch::rand({N, 6}, gen, torch::kFloat64).contiguous();
  const auto a = u.accessor<double, 2>();
  torch::Tensor out = contiguousCopy(images);
  for (int64_t n = 0; n < N; ++n) {
    const Rect r = sampleRect(H, W, params, a[n][0], a[n][1]);
    const int64_t rows = H - r.height + 1, cols = W - r.width + 1;
    const int64_t st = offsetFrom(a[n][2], rows), sl = offsetFrom(a[n][3], cols);
    int64_t dt = offsetFrom(a[n][4], rows), dl = offsetFrom(a[n][5], cols);
    // Pasting onto itself would change nothing: move one step (sampleRect leaves room).
    if (dt == st && dl == sl) {
      if (cols > 1)
        dl = (dl + 1) % cols;
      else
        dt = (dt + 1) % rows;  // the rectangle spans the width, so it is shorter than H
    }
    // Read from the untouched input, so overlapping source and destination are fine.
    out[n]
        .slice(1, dt, dt + r.height)
        .slice(2, dl, dl + r.width)
        .copy_(images[n].slice(1, st, st + r.height).slice(2, sl, sl + r.width));
  }
  return out;
}

torch::Tensor colorDistort(const torch::Tensor& images, double strength, torch::Generator& gen) {
  checkImages("colorDistort", images);
  checkStrength("colorDistort", strength);
  const int64_t N = images.size(0);
  const torch::Tensor u = torch::rand({N, 8}, gen, torch::kFloat64).contiguous();
  torch::Tensor out = contiguousCopy(images);
  for (int64_t n = 0; n < N; ++n) out[n].copy_(distortOne(images[n], strength, u.data_ptr<double>() + n * 8));
  return out;
}

torch::Tensor makePseudoAnomalies(const torch::Tensor& images, torch::Generator& gen,
                                  const PseudoAnomalyParams& params) {
  // Every setting is checked up front, not only those of the augmentations drawn.
  checkImages("makePseudoAnomalies", images);
  checkGrid("makePseudoAnomalies", images, params.grid);
  checkCutPaste("makePseudoAnomalies", images, params.cut_paste);
  checkStrength("makePseudoAnomalies", params.color_strength);
  const torch::Tensor kind = torch::randint(3, {images.size(0)}, gen, torch::kLong);
  torch::Tensor out = contiguousCopy(images);
  // Each augmentation runs once on its subset of the batch, in a fixed order, so the
  // draws from `gen` (and hence the output) depend only on its initial state.
  for (int64_t k = 0; k < 3; ++k) {
    const torch::Tensor rows = (kind == k).nonzero().squeeze(1);
    if (rows.numel() == 0) continue;
    const torch::Tensor subset = images.index_select(0, rows);
    const torch::Tensor changed = k == 0   ? patchShuffle(subset, params.grid, gen)
                                  : k == 1 ? cutPaste(subset, gen, params.cut_paste)
                                           : colorDistort(subset, params.color_strength, gen);
    out.index_copy_(0, rows, changed);
  }
  return out;
}

}  // namespace shiftad::data
