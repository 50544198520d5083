// CLIP's visual towers (OpenAI, clip/model.py) with OpenAI's parameter names minus
// the "visual." prefix, so the visual half of a CLIP state dict maps onto them by
// name: VisionTransformer (ViT-B/32: conv1, class_embedding, positional_embedding,
// ln_pre, transformer.resblocks.N.{attn,ln_1,mlp,ln_2}, ln_post, proj) and
// ModifiedResNet (RN50: 3-conv stem, anti-aliased Bottlenecks, attnpool).
//
// As F, the trunk is CLIP's image embedding (after `proj` / the attention pool) and a
// bias-free `head` projects it to embedding_dim, as Deep SVDD requires.
#pragma once

#include <array>

#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include "models/FeatureExtractor.h"

namespace shiftad::models {

/// OpenAI's VisionTransformer arguments; the defaults are ViT-B/32.
struct ClipVitParams {
  int64_t input_resolution = 224;
  int64_t patch_size = 32;
  int64_t width = 768;
  int64_t layers = 12;
  int64_t heads = 12;
  int64_t output_dim = 512;
};

/// OpenAI's ModifiedResNet arguments; the defaults are RN50.
struct ClipResNetParams {
  std::array<int64_t, 4> layers{3, 4, 6, 3};
  int64_t width = 64;
  int64_t heads = 32;
  int64_t output_dim = 1024;
  int64_t input_resolution = 224;
};

/// nn.MultiheadAttention's parameters (in_proj_weight/bias, out_proj) and math, for
/// self-attention without mask or dropout on N x L x D batches.
class ClipSelfAttentionImpl : public torch::nn::Module {
 public:
  ClipSelfAttentionImpl(int64_t width, int64_t heads);
  torch::Tensor forward(const torch::Tensor& x);

  torch::Tensor in_proj_weight, in_proj_bias;
  torch::nn::Linear out_proj{nullptr};

 private:
  int64_t heads_;
};
TORCH_MODULE(ClipSelfAttention);

/// Pre-LayerNorm transformer block: x + attn(ln_1(x)), then x + mlp(ln_2(x)) with
/// mlp = c_fc (4x width) -> QuickGELU -> c_proj.
class ClipResidualBlockImpl : public torch::nn::Module {
 public:
  ClipResidualBlockImpl(int64_t width, int64_t heads);
  torch::Tensor forward(torch::Tensor x);

  ClipSelfAttention attn{nullptr};
  torch::nn::LayerNorm ln_1{nullptr}, ln_2{nullptr};
  torch::nn::Sequential mlp{nullptr};  // children "c_fc", "gelu", "c_proj"
};
TORCH_MODULE(ClipResidualBlock);

class ClipVisionTransformer : public FeatureExtractor {
 public:
  ClipVisionTransformer(const ClipVitParams& params, int embedding_dim, const HeadSpec& head = {});
  /// CLIP's image embedding N x output_dim: ln_post(class token) @ proj.
  torch::Tensor trunk(torch::Tensor images) override;
  int64_t trunkDim() const override { return params_.output_dim; }
  /// Patch embedding (conv1, class/positional embeddings, ln_pre), each residual block,
  /// then ln_post + proj.
  std::vector<std::vector<std::string>> stages() const override;
  const ClipVitParams& params() const { return params_; }

 private:
  ClipVitParams params_;
  torch::nn::Conv2d conv1{nullptr};
  torch::Tensor class_embedding, positional_embedding, proj;
  torch::nn::LayerNorm ln_pre{nullptr}, ln_post{nullptr};
  torch::nn::ModuleList resblocks{nullptr};  // registered as transformer.resblocks
};

/// ModifiedResNet's Bottleneck: all convolutions stride 1; a stride > 1 is an
/// average pool before conv3 and before the downsample's 1x1 conv (anti-aliasing).
class ClipBottleneckImpl : public torch::nn::Module {
 public:
  static constexpr int64_t kExpansion = 4;
  ClipBottleneckImpl(int64_t in, int64_t planes, int64_t stride);
  torch::Tensor forward(torch::Tensor x);

 private:
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
  torch::nn::Sequential downsample{nullptr};  // children "-1" (avgpool), "0" (conv), "1" (bn)
  int64_t stride_;
};
TORCH_MODULE(ClipBottleneck);

/// ModifiedResNet's AttentionPool2d: the mean token (plus positional embeddings)
/// attends to all spatial tokens; q/k/v/c_proj carry biases.
class ClipAttentionPoolImpl : public torch::nn::Module {
 public:
  ClipAttentionPoolImpl(int64_t spatial_dim, int64_t embed_dim, int64_t heads, int64_t output_dim);
  /// N x C x H x W (H * W = spatial_dim^2) -> N x output_dim.
  torch::Tensor forward(torch::Tensor x);

  torch::Tensor positional_embedding;
  torch::nn::Linear k_proj{nullptr}, q_proj{nullptr}, v_proj{nullptr}, c_proj{nullptr};

 private:
  int64_t heads_;
};
TORCH_MODULE(ClipAttentionPool);

class ClipModifiedResNet : public FeatureExtractor {
 public:
  ClipModifiedResNet(const ClipResNetParams& params, int embedding_dim, const HeadSpec& head = {});
  /// CLIP's image embedding N x output_dim (the attention pool's output).
  torch::Tensor trunk(torch::Tensor images) override;
  int64_t trunkDim() const override { return params_.output_dim; }
  /// Stem (conv1..3, bn1..3), layer1..4, attnpool.
  std::vector<std::vector<std::string>> stages() const override;
  const ClipResNetParams& params() const { return params_; }

 private:
  ClipResNetParams params_;
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
  torch::nn::Sequential layer1{nullptr}, layer2{nullptr}, layer3{nullptr}, layer4{nullptr};
  ClipAttentionPool attnpool{nullptr};
};

}  // namespace shiftad::models
