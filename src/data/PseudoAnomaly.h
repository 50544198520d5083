// Pseudo-anomalies for the few-shot variant: strong, structure- or colour-breaking
// augmentations that turn normal images into plausible anomalies (cf. CutPaste, Li et
// al. 2021), so that a detector can be given negatives without real defects.
// All functions take uint8 N x 3 x H x W batches, return new uint8 batches of the same
// shape (the input is not modified), and draw every random choice from `gen`: the
// same generator state gives the same output.
#pragma once

#include <torch/types.h>

namespace shiftad::data {

/// Split each image into grid x grid tiles of (H / grid) x (W / grid) pixels and
/// rearrange them by a random permutation that is never the identity (output tile t is
/// input tile perm[t], row-major). When H or W is not divisible by grid, the last
/// H % grid rows / W % grid columns are left in place. grid >= 2, H, W >= grid.
/// An image whose tiles are all alike (e.g. a flat colour) can come out unchanged.
torch::Tensor patchShuffle(const torch::Tensor& images, int grid, torch::Generator& gen);

/// CutPaste rectangle settings, with their defaults (Li et al. 2021).
struct CutPasteParams {
  double area_min = 0.02;   ///< smallest rectangle area, fraction of H x W (> 0)
  double area_max = 0.15;   ///< largest rectangle area, fraction of H x W (< 1)
  double aspect_min = 0.3;  ///< smallest width / height ratio (> 0), drawn log-uniformly
  double aspect_max = 3.3;  ///< largest width / height ratio
};

/// Per image: copy a random rectangle (area and aspect drawn from `params`, sides
/// rounded and clipped to the image) to a different random location of the same
/// image. Only the destination rectangle changes. H, W >= 2.
torch::Tensor cutPaste(const torch::Tensor& images, torch::Generator& gen, const CutPasteParams& params = {});

/// Per image, a strong colour change: the channels are permuted, inverted
/// (255 - x), or both (one of the three, uniformly; the permutation is never the
/// identity, so no image gets only a mild tint); each channel also gets a gain
/// exp(strength * ln 3 * u) and an offset 64 * strength * u' (u, u' uniform in [-1, 1],
/// drawn per channel), then values are rounded and clamped to [0, 255].
/// strength > 0; 1 gives gains in [1/3, 3] and offsets in [-64, 64].
torch::Tensor colorDistort(const torch::Tensor& images, double strength, torch::Generator& gen);

/// Settings of makePseudoAnomalies, with their defaults.
struct PseudoAnomalyParams {
  int grid = 4;                 ///< patchShuffle grid (tiles per side)
  CutPasteParams cut_paste;     ///< cutPaste rectangle
  double color_strength = 1.0;  ///< colorDistort strength
};

/// Per image, one of patchShuffle, cutPaste and colorDistort, chosen uniformly at
/// random.
torch::Tensor makePseudoAnomalies(const torch::Tensor& images, torch::Generator& gen,
                                  const PseudoAnomalyParams& params = {});

}  // namespace shiftad::data
