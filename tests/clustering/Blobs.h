// Gaussian blobs with known labels, shared by the clustering tests.
#pragma once

#include <cstdint>
#include <vector>

#include <torch/torch.h>

namespace shiftad::test {

/// Points with the index of the blob each was drawn from.
struct Blobs {
  torch::Tensor x;
  std::vector<int64_t> truth;
};

/// Gaussian blobs (std `spread`) around `centers` (m x d), `sizes[j]` points each, with
/// their true labels. Rows are shuffled so clusters are not contiguous.
inline Blobs makeBlobs(const torch::Tensor& centers, const std::vector<int64_t>& sizes, double spread, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  std::vector<torch::Tensor> parts;
  std::vector<int64_t> truth;
  for (size_t j = 0; j < sizes.size(); ++j) {
    parts.push_back(centers[j] + spread * torch::randn({sizes[j], centers.size(1)}, gen, torch::kFloat));
    truth.insert(truth.end(), sizes[j], static_cast<int64_t>(j));
  }
  const torch::Tensor perm = torch::randperm(static_cast<int64_t>(truth.size()), gen, torch::kLong);
  Blobs b;
  b.x = torch::cat(parts).index_select(0, perm);
  for (int64_t i = 0; i < perm.size(0); ++i) b.truth.push_back(truth[perm[i].item<int64_t>()]);
  return b;
}

/// Three well separated blobs of unequal sizes (100, 60, 40) in 5-D.
inline Blobs threeBlobs(uint64_t seed = 1) {
  const torch::Tensor centers = torch::tensor({{0.f, 0.f, 0.f, 0.f, 0.f},  //
                                               {10.f, -4.f, 2.f, 0.f, 5.f},
                                               {-6.f, 8.f, -3.f, 7.f, 0.f}});
  return makeBlobs(centers, {100, 60, 40}, 0.5, seed);
}

/// The elements of an integer tensor.
inline std::vector<int64_t> toVector(const torch::Tensor& t) {
  const torch::Tensor c = t.to(torch::kLong).contiguous().cpu();
  return {c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel()};
}

}  // namespace shiftad::test
