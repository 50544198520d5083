// The frozen-encoder baselines' scores, against hand-computed distances.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "models/FrozenScorer.h"

using namespace shiftad;

TEST(FrozenScorer, KnnIsTheMeanSquaredDistanceToTheNearestReferences) {
  const auto ref = torch::tensor({0.f, 0.f, 1.f, 0.f, 0.f, 2.f}).reshape({3, 2});
  const auto x = torch::tensor({0.f, 1.f, 3.f, 0.f}).reshape({2, 2});
  // (0,1): squared distances 1, 2, 1 -> two nearest 1, 1. (3,0): 9, 4, 13 -> 4, 9.
  const auto s = models::makeFrozenScorer(ScoreMethod::kFrozenKnn, ref, {}, 2).score(x);
  EXPECT_NEAR(s[0].item<float>(), 1.0, 1e-6);
  EXPECT_NEAR(s[1].item<float>(), 6.5, 1e-6);
  // k larger than the reference set: all rows.
  EXPECT_NEAR(models::makeFrozenScorer(ScoreMethod::kFrozenKnn, ref, {}, 10).score(x)[0].item<float>(), 4.0 / 3.0,
              1e-6);
}

TEST(FrozenScorer, MeanAndDominantUseTheirSetsMean) {
  const auto src = torch::tensor({0.f, 0.f, 2.f, 0.f}).reshape({2, 2});  // mean (1, 0)
  const auto dom = torch::tensor({0.f, 4.f, 0.f, 2.f}).reshape({2, 2});  // mean (0, 3)
  const auto x = torch::tensor({1.f, 3.f}).reshape({1, 2});
  EXPECT_NEAR(models::makeFrozenScorer(ScoreMethod::kFrozenMean, src, dom, 5).score(x)[0].item<float>(), 9.0, 1e-6);
  EXPECT_NEAR(models::makeFrozenScorer(ScoreMethod::kFrozenDominant, src, dom, 5).score(x)[0].item<float>(), 1.0, 1e-6);
}

TEST(FrozenScorer, WidthMismatchAndUnknownMethodAreClearErrors) {
  const auto ref = torch::zeros({2, 3});
  EXPECT_THROW(models::makeFrozenScorer(ScoreMethod::kFrozenMean, ref, {}, 1).score(torch::zeros({1, 4})),
               std::exception);
  EXPECT_THROW(models::makeFrozenScorer(ScoreMethod::kSvdd, ref, {}, 1), std::exception);
  EXPECT_THROW(models::makeFrozenScorer(ScoreMethod::kFrozenDominant, ref, torch::zeros({0, 3}), 1), std::exception);
}

TEST(FrozenScorer, ARowScoresTheSameAloneOrAmongOthersAndZeroOnAReference) {
  // |a|^2 - 2ab + |b|^2 as a matrix product rounded with the number of rows scored (an
  // image scored 0.262296796 among 120, 0.262296766 alone), and left ~6e-8 where a row
  // equals a reference. Features as an encoder gives them: non-negative, unit length.
  torch::manual_seed(3);
  const auto unit = [](const torch::Tensor& t) { return t / t.norm(2, 1, true); };
  const auto ref = unit(torch::rand({120, 1280}));
  const auto x = torch::cat({unit(torch::rand({119, 1280})), ref.slice(0, 5, 6)});
  for (auto method : {ScoreMethod::kFrozenKnn, ScoreMethod::kFrozenMean}) {
    const auto scorer = models::makeFrozenScorer(method, ref, {}, 5);
    const auto all = scorer.score(x);
    int differ = 0;
    for (int64_t i = 0; i < x.size(0); ++i)
      differ += scorer.score(x.slice(0, i, i + 1))[0].item<float>() != all[i].item<float>();
    EXPECT_EQ(differ, 0) << "of " << x.size(0) << " rows, method " << static_cast<int>(method);
  }
  EXPECT_EQ(models::makeFrozenScorer(ScoreMethod::kFrozenKnn, ref, {}, 1).score(x)[119].item<float>(), 0.0f);
}

TEST(FrozenScorer, TheNearestReferenceIsChosenByExactDistanceInANearTie) {
  // Each query has two references at squared distances 0.09 and 0.09 (1 + g)^2, |g| in
  // [1e-6, 5e-6]: a gap of 2e-7 to 9e-7, within the rounding of a float |a|^2 - 2ab +
  // |b|^2 over 1280 dimensions, which chose the farther one for some queries (and which
  // one could depend on a row's place in the BLAS kernel's tiles). The oracle: both
  // distances in double from the same float inputs; k = 1 must give the nearer.
  torch::manual_seed(11);
  const int64_t m = 400, d = 1280;
  const auto unit = [](const torch::Tensor& t) { return t / t.norm(2, 1, true); };
  const auto x = unit(torch::rand({m, d}));
  const auto g = (torch::rand({m, 1}) * 4e-6 + 1e-6) * (torch::rand({m, 1}) < 0.5).to(torch::kFloat).mul(2).sub(1);
  const auto r1 = x + 0.3 * unit(torch::randn({m, d}));
  const auto r2 = x + 0.3 * unit(torch::randn({m, d})) * (1 + g);
  const auto ref = torch::cat({r1, r2});
  const auto s = models::makeFrozenScorer(ScoreMethod::kFrozenKnn, ref, {}, 1).score(x);
  const auto xd = x.to(torch::kDouble);
  const auto d1 = (xd - r1.to(torch::kDouble)).pow(2).sum(1), d2 = (xd - r2.to(torch::kDouble)).pow(2).sum(1);
  const auto nearer = torch::minimum(d1, d2), half_gap = (d1 - d2).abs() / 2;
  const auto wrong = ((s.to(torch::kDouble) - nearer).abs() >= half_gap).sum().item<int64_t>();
  EXPECT_EQ(wrong, 0) << "of " << m << " near ties, the farther reference was taken";
  EXPECT_GT(half_gap.min().item<double>(), 4e-8);  // the test's premise: float's half-ulp at 0.09 is 3.7e-9
}
