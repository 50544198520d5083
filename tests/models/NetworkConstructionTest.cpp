// models::NetworkConstruction: a network's initial weights drawn from a private stream
// are those LibTorch's own seeded global generator gives, whatever other threads build
// meanwhile, and the global generator is left where it was.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <atomic>
#include <thread>

#include "models/FeatureExtractor.h"
#include "models/NetworkConstruction.h"

using namespace shiftad;

namespace {

/// A network LibTorch initialises at random: what shiftad's architectures are made of.
torch::nn::Sequential network() {
  return torch::nn::Sequential(torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 4, 3)), torch::nn::Linear(8, 5));
}

/// Every parameter, flattened and concatenated in registration order.
torch::Tensor weightsOf(const torch::nn::Module& net) {
  std::vector<torch::Tensor> flat;
  for (const auto& p : net.parameters()) flat.push_back(p.detach().flatten());
  return torch::cat(flat);
}

/// The oracle: LibTorch's global generator seeded, then `n` networks built as LibTorch
/// alone builds them.
std::vector<torch::Tensor> seededGlobally(uint64_t seed, int n) {
  torch::manual_seed(seed);
  std::vector<torch::Tensor> out;
  for (int i = 0; i < n; ++i) out.push_back(weightsOf(*network()));
  return out;
}

ModelConfig smallCnn() {
  ModelConfig mc;
  mc.arch = Arch::kSmallCnn;
  mc.width = 4;
  mc.embedding_dim = 8;
  return mc;
}

bool sameState(const at::Tensor& a, const at::Tensor& b) { return a.sizes() == b.sizes() && a.equal(b); }

}  // namespace

TEST(NetworkConstruction, AStreamGivesTheSeededGlobalGeneratorsWeightsAndLeavesTheGlobalOneAlone) {
  const auto expected = seededGlobally(7, 2);
  torch::manual_seed(123);
  torch::randn({5});  // the host's generator somewhere in its own stream
  auto global = at::detail::getDefaultCPUGenerator();
  const auto before = global.get_state();
  auto stream = models::constructionStream(7);
  std::vector<torch::Tensor> got;
  for (int i = 0; i < 2; ++i) {  // the stream goes on from one construction to the next
    const models::NetworkConstruction building(stream);
    got.push_back(weightsOf(*network()));
  }
  EXPECT_TRUE(got[0].equal(expected[0]));
  EXPECT_TRUE(got[1].equal(expected[1]));
  EXPECT_FALSE(got[0].equal(got[1]));
  EXPECT_TRUE(sameState(global.get_state(), before)) << "the host's generator was moved or reseeded";
}

TEST(NetworkConstruction, ANestedConstructionDrawsFromTheOuterStream) {
  const auto expected = seededGlobally(3, 3);
  auto outer = models::constructionStream(3);
  auto inner = models::constructionStream(99);
  const models::NetworkConstruction building(outer);
  const auto first = weightsOf(*network());
  torch::Tensor second, third;
  {
    const models::NetworkConstruction nested(inner);
    second = weightsOf(*network());
  }
  {
    const models::NetworkConstruction nested;  // as makeFeatureExtractor builds
    third = weightsOf(*network());
  }
  EXPECT_TRUE(first.equal(expected[0]));
  EXPECT_TRUE(second.equal(expected[1]));
  EXPECT_TRUE(third.equal(expected[2]));
}

TEST(NetworkConstruction, BuildingWithoutAStreamLeavesTheGlobalGeneratorWhereItWas) {
  torch::manual_seed(5);
  const auto expected = weightsOf(*network());  // LibTorch's own draws from there
  torch::manual_seed(5);
  const auto before = at::detail::getDefaultCPUGenerator().get_state();
  torch::Tensor got;
  {
    const models::NetworkConstruction building;
    got = weightsOf(*network());
  }
  EXPECT_TRUE(got.equal(expected));
  EXPECT_TRUE(sameState(at::detail::getDefaultCPUGenerator().get_state(), before));
  // shiftad's architectures are built so.
  const auto a = weightsOf(*models::makeFeatureExtractor(smallCnn()));
  EXPECT_TRUE(sameState(at::detail::getDefaultCPUGenerator().get_state(), before));
  EXPECT_TRUE(weightsOf(*models::makeFeatureExtractor(smallCnn())).equal(a));
}

TEST(NetworkConstruction, OtherThreadsBuildingNetworksDoNotChangeAStreamsWeights) {
  const auto expected = seededGlobally(11, 1)[0];
  std::atomic<bool> done{false};
  // Another thread builds networks without a stream (a run being loaded: weights read next).
  std::thread other([&] {
    while (!done) models::makeFeatureExtractor(smallCnn());
  });
  int differing = 0;
  for (int i = 0; i < 1000; ++i) {
    auto stream = models::constructionStream(11);
    const models::NetworkConstruction building(stream);
    if (!weightsOf(*network()).equal(expected)) ++differing;
  }
  done = true;
  other.join();
  EXPECT_EQ(differing, 0) << "of 1000 constructions";
}
