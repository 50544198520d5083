#include "models/ClipVisual.h"

#include <cmath>

#include <torch/torch.h>

#include "common/Error.h"

namespace shiftad::models {
namespace {
namespace F = torch::nn::functional;

torch::nn::Conv2d conv(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t pad) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, k).stride(stride).padding(pad).bias(false));
}

torch::nn::LayerNorm layerNorm(int64_t width) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({width}));  // eps 1e-5, as nn.LayerNorm
}

/// CLIP's QuickGELU, the sigmoid approximation its weights were trained with (not
/// the erf GELU).
torch::Tensor quickGelu(torch::Tensor x) { return x * torch::sigmoid(1.702 * x); }

/// Multi-head scaled dot-product attention on projected inputs: q N x Lq x D,
/// k and v N x L x D -> N x Lq x D. As torch's multi_head_attention_forward, q is
/// scaled by 1/sqrt(head dim) before the product.
torch::Tensor attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v, int64_t heads) {
  const int64_t n = q.size(0), dim = q.size(2), head_dim = dim / heads;
  const auto split = [&](const torch::Tensor& t) { return t.reshape({n, t.size(1), heads, head_dim}).transpose(1, 2); };
  const auto scores = torch::matmul(split(q) / std::sqrt(static_cast<double>(head_dim)), split(k).transpose(-2, -1));
  return torch::matmul(torch::softmax(scores, -1), split(v)).transpose(1, 2).reshape({n, q.size(1), dim});
}

/// The positional embedding fixes the input size; a clear error instead of a shape
/// mismatch deep inside.
void checkImages(const torch::Tensor& x, int64_t side, const char* what) {
  SHIFTAD_CHECK(x.dim() == 4 && x.size(1) == 3 && x.size(2) == side && x.size(3) == side,
                "{}: expected N x 3 x {} x {} images (its positional embedding fixes the input size: set "
                "data.image_size to {}), got shape {}",
                what, side, side, side, fmt::format("{}", fmt::join(x.sizes(), "x")));
}

/// OpenAI's CLIP.initialize_parameters for the ViT's transformer.
void initTransformer(torch::nn::ModuleList& blocks, int64_t width) {
  torch::NoGradGuard ng;
  const double attn_std = std::pow(static_cast<double>(width), -0.5);
  const double proj_std = attn_std * std::pow(2.0 * static_cast<double>(blocks->size()), -0.5);
  const double fc_std = std::pow(2.0 * static_cast<double>(width), -0.5);
  for (const auto& m : *blocks) {
    auto* b = m->as<ClipResidualBlockImpl>();
    b->attn->in_proj_weight.normal_(0.0, attn_std);
    b->attn->out_proj->weight.normal_(0.0, proj_std);
    b->mlp->ptr(0)->as<torch::nn::LinearImpl>()->weight.normal_(0.0, fc_std);
    b->mlp->ptr(2)->as<torch::nn::LinearImpl>()->weight.normal_(0.0, proj_std);
  }
}

/// OpenAI's _make_layer: the first block strides and changes width. `in` is updated
/// to the stage's output channels.
torch::nn::Sequential stage(int64_t& in, int64_t planes, int64_t blocks, int64_t stride) {
  torch::nn::Sequential s;
  s->push_back(ClipBottleneck(in, planes, stride));
  in = planes * ClipBottleneckImpl::kExpansion;
  for (int64_t i = 1; i < blocks; ++i) s->push_back(ClipBottleneck(in, planes, 1));
  return s;
}

/// OpenAI's CLIP.initialize_parameters for the ModifiedResNet: attention-pool
/// projections N(0, C^-1/2); each block's last BN starts at zero, so every residual
/// block starts as the identity.
void initModifiedResNet(torch::nn::Module& net, ClipAttentionPool& pool) {
  torch::NoGradGuard ng;
  const double std = std::pow(static_cast<double>(pool->c_proj->weight.size(1)), -0.5);
  for (auto* l : {&pool->q_proj, &pool->k_proj, &pool->v_proj, &pool->c_proj}) (*l)->weight.normal_(0.0, std);
  for (auto& p : net.named_parameters()) {
    const auto& name = p.key();
    if (name.rfind("layer", 0) == 0 && name.size() > 11 && name.compare(name.size() - 11, 11, "bn3.weight") == 0)
      p.value().zero_();
  }
}

}  // namespace

// ---- VisionTransformer ----

ClipSelfAttentionImpl::ClipSelfAttentionImpl(int64_t width, int64_t heads) : heads_(heads) {
  SHIFTAD_CHECK(heads > 0 && width % heads == 0, "CLIP attention: width {} is not divisible by heads {}", width, heads);
  // nn.MultiheadAttention's defaults: xavier-uniform packed q/k/v weights, zero biases.
  in_proj_weight = register_parameter("in_proj_weight", torch::empty({3 * width, width}));
  torch::nn::init::xavier_uniform_(in_proj_weight);
  in_proj_bias = register_parameter("in_proj_bias", torch::zeros({3 * width}));
  out_proj = register_module("out_proj", torch::nn::Linear(width, width));
  torch::NoGradGuard ng;
  out_proj->bias.zero_();
}

torch::Tensor ClipSelfAttentionImpl::forward(const torch::Tensor& x) {
  const auto qkv = F::linear(x, in_proj_weight, in_proj_bias).chunk(3, -1);
  return out_proj(attend(qkv[0], qkv[1], qkv[2], heads_));
}

ClipResidualBlockImpl::ClipResidualBlockImpl(int64_t width, int64_t heads) {
  attn = register_module("attn", ClipSelfAttention(width, heads));
  ln_1 = register_module("ln_1", layerNorm(width));
  mlp = register_module("mlp", torch::nn::Sequential({{"c_fc", torch::nn::Linear(width, 4 * width)},
                                                      {"gelu", torch::nn::Functional(quickGelu)},
                                                      {"c_proj", torch::nn::Linear(4 * width, width)}}));
  ln_2 = register_module("ln_2", layerNorm(width));
}

torch::Tensor ClipResidualBlockImpl::forward(torch::Tensor x) {
  x = x + attn(ln_1(x));
  return x + mlp->forward(ln_2(x));
}

ClipVisionTransformer::ClipVisionTransformer(const ClipVitParams& p, int embedding_dim, const HeadSpec& head)
    : params_(p) {
  SHIFTAD_CHECK(p.patch_size > 0 && p.input_resolution % p.patch_size == 0 && p.width > 0 && p.layers > 0 &&
                    p.output_dim > 0 && embedding_dim > 0,
                "ClipVisionTransformer: invalid parameters (resolution {}, patch {}, width {}, layers {}, output {}, "
                "embedding {}); the resolution must be a multiple of the patch size",
                p.input_resolution, p.patch_size, p.width, p.layers, p.output_dim, embedding_dim);
  conv1 = register_module("conv1", conv(3, p.width, p.patch_size, p.patch_size, 0));
  const double scale = std::pow(static_cast<double>(p.width), -0.5);
  const int64_t grid = p.input_resolution / p.patch_size;
  class_embedding = register_parameter("class_embedding", torch::randn({p.width}) * scale);
  positional_embedding = register_parameter("positional_embedding", torch::randn({grid * grid + 1, p.width}) * scale);
  ln_pre = register_module("ln_pre", layerNorm(p.width));
  // OpenAI nests the blocks as transformer.resblocks.N; the Transformer itself has no
  // parameters, so a plain Module carries the name.
  auto transformer = std::make_shared<torch::nn::Module>();
  resblocks = transformer->register_module("resblocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < p.layers; ++i) resblocks->push_back(ClipResidualBlock(p.width, p.heads));
  register_module("transformer", transformer);
  ln_post = register_module("ln_post", layerNorm(p.width));
  proj = register_parameter("proj", torch::randn({p.width, p.output_dim}) * scale);
  buildHead(p.output_dim, embedding_dim, head);
  initTransformer(resblocks, p.width);
}

torch::Tensor ClipVisionTransformer::trunk(torch::Tensor images) {
  checkImages(images, params_.input_resolution, "ClipVisionTransformer");
  auto x = conv1(images).flatten(2).transpose(1, 2);  // N x grid^2 x width (patch tokens)
  const auto cls = class_embedding.view({1, 1, -1}).expand({x.size(0), 1, x.size(2)});
  x = ln_pre(torch::cat({cls, x}, 1) + positional_embedding);
  for (const auto& block : *resblocks) x = block->as<ClipResidualBlockImpl>()->forward(x);
  return torch::matmul(ln_post(x.select(1, 0)), proj);  // class token
}

std::vector<std::vector<std::string>> ClipVisionTransformer::stages() const {
  std::vector<std::vector<std::string>> out = {{"conv1", "class_embedding", "positional_embedding", "ln_pre"}};
  for (int64_t i = 0; i < params_.layers; ++i) out.push_back({"transformer.resblocks." + std::to_string(i)});
  out.push_back({"ln_post", "proj"});
  return out;
}

// ---- ModifiedResNet ----

ClipBottleneckImpl::ClipBottleneckImpl(int64_t in, int64_t planes, int64_t stride) : stride_(stride) {
  const int64_t out = planes * kExpansion;
  conv1 = register_module("conv1", conv(in, planes, 1, 1, 0));
  bn1 = register_module("bn1", torch::nn::BatchNorm2d(planes));
  conv2 = register_module("conv2", conv(planes, planes, 3, 1, 1));
  bn2 = register_module("bn2", torch::nn::BatchNorm2d(planes));
  conv3 = register_module("conv3", conv(planes, out, 1, 1, 0));
  bn3 = register_module("bn3", torch::nn::BatchNorm2d(out));
  if (stride > 1 || in != out) {
    // OpenAI names the parameter-free pool "-1" so that the conv and BN keep the
    // torchvision-like names downsample.0 / downsample.1.
    downsample = register_module(
        "downsample", torch::nn::Sequential({{"-1", torch::nn::AvgPool2d(torch::nn::AvgPool2dOptions(stride))},
                                             {"0", conv(in, out, 1, 1, 0)},
                                             {"1", torch::nn::BatchNorm2d(out)}}));
  }
}

torch::Tensor ClipBottleneckImpl::forward(torch::Tensor x) {
  auto y = torch::relu(bn1(conv1(x)));
  y = torch::relu(bn2(conv2(y)));
  if (stride_ > 1) y = F::avg_pool2d(y, F::AvgPool2dFuncOptions(stride_));
  y = bn3(conv3(y));
  const auto identity = downsample ? downsample->forward(x) : x;
  return torch::relu(y + identity);
}

ClipAttentionPoolImpl::ClipAttentionPoolImpl(int64_t spatial_dim, int64_t embed_dim, int64_t heads, int64_t output_dim)
    : heads_(heads) {
  SHIFTAD_CHECK(heads > 0 && embed_dim % heads == 0, "CLIP attention pool: width {} is not divisible by heads {}",
                embed_dim, heads);
  positional_embedding =
      register_parameter("positional_embedding", torch::randn({spatial_dim * spatial_dim + 1, embed_dim}) /
                                                     std::sqrt(static_cast<double>(embed_dim)));
  k_proj = register_module("k_proj", torch::nn::Linear(embed_dim, embed_dim));
  q_proj = register_module("q_proj", torch::nn::Linear(embed_dim, embed_dim));
  v_proj = register_module("v_proj", torch::nn::Linear(embed_dim, embed_dim));
  c_proj = register_module("c_proj", torch::nn::Linear(embed_dim, output_dim));
}

torch::Tensor ClipAttentionPoolImpl::forward(torch::Tensor x) {
  x = x.flatten(2).transpose(1, 2);  // N x HW x C
  x = torch::cat({x.mean(1, /*keepdim=*/true), x}, 1) + positional_embedding;
  // OpenAI keeps only the mean token's output, so only its query is computed.
  const auto out = attend(q_proj(x.slice(1, 0, 1)), k_proj(x), v_proj(x), heads_);
  return c_proj(out.squeeze(1));
}

ClipModifiedResNet::ClipModifiedResNet(const ClipResNetParams& p, int embedding_dim, const HeadSpec& head)
    : params_(p) {
  SHIFTAD_CHECK(p.width > 0 && p.width % 2 == 0 && p.input_resolution > 0 && p.input_resolution % 32 == 0 &&
                    p.output_dim > 0 && embedding_dim > 0,
                "ClipModifiedResNet: invalid parameters (width {}, resolution {}, output {}, embedding {}); the width "
                "must be even and the resolution a multiple of 32",
                p.width, p.input_resolution, p.output_dim, embedding_dim);
  const int64_t w = p.width;
  conv1 = register_module("conv1", conv(3, w / 2, 3, 2, 1));
  bn1 = register_module("bn1", torch::nn::BatchNorm2d(w / 2));
  conv2 = register_module("conv2", conv(w / 2, w / 2, 3, 1, 1));
  bn2 = register_module("bn2", torch::nn::BatchNorm2d(w / 2));
  conv3 = register_module("conv3", conv(w / 2, w, 3, 1, 1));
  bn3 = register_module("bn3", torch::nn::BatchNorm2d(w));
  int64_t in = w;
  torch::nn::Sequential* layers[4] = {&layer1, &layer2, &layer3, &layer4};
  for (int i = 0; i < 4; ++i) {
    SHIFTAD_CHECK(p.layers[i] > 0, "ClipModifiedResNet: layer{} needs at least one block", i + 1);
    *layers[i] = register_module("layer" + std::to_string(i + 1), stage(in, w << i, p.layers[i], i == 0 ? 1 : 2));
  }
  // The stem and layers 2-4 halve the side five times in all.
  attnpool = register_module("attnpool", ClipAttentionPool(p.input_resolution / 32, in, p.heads, p.output_dim));
  buildHead(p.output_dim, embedding_dim, head);
  initModifiedResNet(*this, attnpool);
}

torch::Tensor ClipModifiedResNet::trunk(torch::Tensor images) {
  checkImages(images, params_.input_resolution, "ClipModifiedResNet");
  auto x = torch::relu(bn1(conv1(images)));
  x = torch::relu(bn2(conv2(x)));
  x = torch::relu(bn3(conv3(x)));
  x = F::avg_pool2d(x, F::AvgPool2dFuncOptions(2));
  x = layer4->forward(layer3->forward(layer2->forward(layer1->forward(x))));
  return attnpool(x);
}

std::vector<std::vector<std::string>> ClipModifiedResNet::stages() const {
  return {
      {"conv1", "bn1", "conv2", "bn2", "conv3", "bn3"}, {"layer1"}, {"layer2"}, {"layer3"}, {"layer4"}, {"attnpool"}};
}

}  // namespace shiftad::models
