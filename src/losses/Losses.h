// Training objectives: Deep SVDD (paper Eq. 5) and contrastive alignment (Eq. 8-9).
#pragma once

#include <vector>

#include <torch/types.h>

namespace shiftad::losses {

/// Deep SVDD center: mean of `features` (n x d), with coordinates |c_k| < eps pushed
/// to +eps (c_k >= 0) or -eps (c_k < 0), as in Ruff et al. 2018, so that a trivial
/// all-zero embedding cannot reach the center.
torch::Tensor svddCenter(const torch::Tensor& features, double eps);

/// Deep SVDD loss: mean over rows of ||z_i - c||^2.
torch::Tensor deepSvddLoss(const torch::Tensor& z, const torch::Tensor& c);

/// Per-row anomaly score ||z_i - c||^2 (n).
torch::Tensor svddScore(const torch::Tensor& z, const torch::Tensor& c);

/// InfoNCE / NT-Xent between paired source and target features (paper Eq. 8-9):
/// zs, zt are n x d with row i of each forming a positive pair. With z = [zs; zt]
/// (2n rows) and sim = cosine similarity,
///   l(i, j) = -log( exp(sim(z_i,z_j)/tau) / sum_{k != i} exp(sim(z_i,z_k)/tau) ),
/// and the loss is the mean of l over both directions of every pair (2n terms).
/// `negatives` (m x d, optional): extra rows added to every denominator only (the
/// few-shot variant's pseudo-anomalies).
torch::Tensor infoNceLoss(const torch::Tensor& zs, const torch::Tensor& zt, double tau,
                          const torch::Tensor& negatives = {});

/// L2-SP penalty (Li et al. 2018): sum over i of ||weights_i - anchors_i||^2, a pull
/// toward the weights training started from (where plain weight decay pulls toward 0).
/// The two lists pair up one to one, in shape.
torch::Tensor anchorPenalty(const std::vector<torch::Tensor>& weights, const std::vector<torch::Tensor>& anchors);

}  // namespace shiftad::losses
