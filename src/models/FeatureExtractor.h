// The trainable feature extractor F: normalized images N x 3 x S x S -> N x D.
//
// Deep SVDD requires that the layers producing the embedding have no bias terms
// (a bias lets the network map every input onto the center: hypersphere collapse),
// so every head here is bias-free.
#pragma once

#include <memory>
#include <string>

#include <torch/nn/module.h>
#include <torch/types.h>

#include "shiftad/Config.h"

namespace shiftad::models {

class FeatureExtractor : public torch::nn::Module {
 public:
  virtual torch::Tensor forward(torch::Tensor images) = 0;
  virtual int64_t embeddingDim() const = 0;
};

/// Build F from the config (random initialisation seeded by the global torch seed).
/// Throws shiftad::Error for an unknown architecture.
std::shared_ptr<FeatureExtractor> makeFeatureExtractor(const ModelConfig& cfg);

}  // namespace shiftad::models
