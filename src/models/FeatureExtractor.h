// The trainable feature extractor F: normalized images N x 3 x S x S -> N x D.
//
// Deep SVDD requires that the layers producing the embedding have no bias terms
// (a bias lets the network map every input onto the center: hypersphere collapse),
// so every head here is bias-free.
#pragma once

#include <map>
#include <memory>
#include <string>

#include <torch/nn/module.h>
#include <torch/types.h>

#include "io/SafeTensors.h"
#include "shiftad/Config.h"

namespace shiftad::models {

class FeatureExtractor : public torch::nn::Module {
 public:
  virtual torch::Tensor forward(torch::Tensor images) = 0;
  virtual int64_t embeddingDim() const = 0;
  /// Architecture facts that the weights alone do not tell (e.g. padding), stored in
  /// a checkpoint's metadata so that it rebuilds the same network.
  virtual std::map<std::string, std::string> describe() const { return {}; }
};

/// Build F from the config: random initialisation (seeded by the global torch seed),
/// then the pretrained backbone of model.weights if set (for clip_* archs, the
/// tensors under OpenAI's "visual." prefix). Throws shiftad::Error for an unknown
/// architecture or weights that do not fit it.
std::shared_ptr<FeatureExtractor> makeFeatureExtractor(const ModelConfig& cfg);

/// Rebuild a trained F from its checkpoint (all tensors, strict; the architecture
/// facts from the checkpoint's metadata); model.weights is not read.
std::shared_ptr<FeatureExtractor> loadFeatureExtractor(const ModelConfig& cfg, const io::SafeTensorsFile& checkpoint);

}  // namespace shiftad::models
