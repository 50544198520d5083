#include "method/L2SpAnchor.h"

#include <torch/torch.h>

#include "losses/Losses.h"

namespace shiftad::method {

L2SpAnchor::L2SpAnchor(const torch::nn::Module& net) {
  for (const auto& w : net.parameters())
    if (w.requires_grad()) {
      weights_.push_back(w);
      anchors_.push_back(w.detach().clone());
    }
}

torch::Tensor L2SpAnchor::penalty() const { return losses::anchorPenalty(weights_, anchors_); }

}  // namespace shiftad::method
