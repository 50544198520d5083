// Refinements of the dominant set found by a clustering (paper Eq. 6): keep only its
// core, the members closest to the cluster's center.
#pragma once

#include <torch/types.h>

namespace shiftad::clustering {

/// The ceil(fraction * m) of the m `members` (row indices into `x`, n x d) nearest to
/// `center` (d), in ascending index order; equal distances go to the earlier member.
/// fraction is in (0, 1]; a product within 1e-9 (relative) of an integer counts as that
/// integer (0.3 of 10 members keeps 3, not 4), and at least one member is kept.
/// Distances are taken from the differences in float64, in row blocks. Throws
/// shiftad::Error on bad shapes, indices or fraction.
torch::Tensor keepClosest(const torch::Tensor& x, const torch::Tensor& members, const torch::Tensor& center,
                          double fraction);

}  // namespace shiftad::clustering
