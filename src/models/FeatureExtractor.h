// The trainable feature extractor F: normalized images N x 3 x S x S -> N x D, as a
// trunk (a backbone ending in pooled features) followed by a bias-free head.
//
// Deep SVDD requires that the layers producing the embedding have no bias terms
// (a bias lets the network map every input onto the center: hypersphere collapse),
// so every head here is bias-free.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/types.h>

#include "io/SafeTensors.h"
#include "models/InferenceNet.h"
#include "shiftad/Config.h"

namespace shiftad::models {

/// F's head, registered as "head": `linear` = one bias-free Linear (head.0); `mlp` =
/// bias-free Linear (head.0) -> LeakyReLU(0.1) -> bias-free Linear (head.2).
struct HeadSpec {
  Head kind = Head::kLinear;  ///< linear | mlp
  int64_t hidden = 512;       ///< mlp: width of the hidden layer
};

class FeatureExtractor : public torch::nn::Module {
 public:
  /// Pooled trunk features (N x trunkDim()) of normalized images.
  virtual torch::Tensor trunk(torch::Tensor images) = 0;
  virtual int64_t trunkDim() const = 0;
  /// The trunk's stages, input side first; each is the names of the child modules it
  /// consists of (what model.freeze counts).
  virtual std::vector<std::vector<std::string>> stages() const = 0;
  /// Architecture facts that the weights alone do not tell (e.g. padding), stored in
  /// a checkpoint's metadata so that it rebuilds the same network.
  virtual std::map<std::string, std::string> describe() const { return {}; }

  /// An eval-only copy of F that computes forward() faster for scoring (InferenceNet.h),
  /// or null where the architecture has none: then forward() is the way. The copy
  /// reads F's head, so F must outlive it.
  virtual std::unique_ptr<InferenceNet> inferenceNet() { return nullptr; }

  /// F(x) = head(trunk(x)).
  torch::Tensor forward(torch::Tensor images) { return head(trunk(images)); }
  /// The head alone, on trunk features (training on cached features).
  torch::Tensor head(const torch::Tensor& trunk_features);
  /// L2-normalize trunk features before the head (model.trunk_l2).
  void setTrunkL2(bool on) { trunk_l2_ = on; }
  /// Set the first head layer's rows to `directions` (embedding x trunkDim for a
  /// linear head; hidden x trunkDim for an mlp head).
  void initHeadRows(const torch::Tensor& directions);
  int64_t embeddingDim() const { return embedding_dim_; }

  /// Freeze the first `n` stages (-1: the whole trunk): no gradients, and their
  /// BatchNorm layers stay in eval mode (running statistics) whatever train() says.
  void freeze(int n);
  /// Number of frozen leading stages (stages().size() when the whole trunk is frozen).
  int frozenStages() const { return frozen_; }
  bool trunkFrozen() const { return frozen_ > 0 && frozen_ == static_cast<int>(stages().size()); }
  void train(bool on = true) override;

 protected:
  /// Called by each architecture's constructor once its trunk is registered.
  void buildHead(int64_t trunk_dim, int64_t embedding_dim, const HeadSpec& spec);

 private:
  torch::nn::Sequential head_{nullptr};
  int64_t embedding_dim_ = 0;
  int frozen_ = 0;
  bool trunk_l2_ = false;
};

/// Build F from the config: random initialisation (seeded by the global torch seed),
/// then the pretrained backbone of model.weights if set (for clip_* archs, the
/// tensors under OpenAI's "visual." prefix), then model.freeze. Throws shiftad::Error
/// for an unknown architecture or weights that do not fit it.
std::shared_ptr<FeatureExtractor> makeFeatureExtractor(const ModelConfig& cfg);

/// Rebuild a trained F from its checkpoint (all tensors, strict; the architecture
/// facts from the checkpoint's metadata); model.weights is not read.
std::shared_ptr<FeatureExtractor> loadFeatureExtractor(const ModelConfig& cfg, const io::SafeTensorsFile& checkpoint);

}  // namespace shiftad::models
