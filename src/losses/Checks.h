// Input checks shared by the loss functions (internal to src/losses).
#pragma once

#include <torch/types.h>

#include "common/Error.h"

namespace shiftad::losses::detail {

/// `z` must be a floating-point n x d matrix with n > 0; `fn` and `name` make the
/// message say which call and which argument is wrong.
inline void checkFeatures(const char* fn, const char* name, const torch::Tensor& z) {
  SHIFTAD_CHECK(z.defined() && z.dim() == 2, "{}: {} must be an n x d matrix, got {} dimensions", fn, name,
                z.defined() ? z.dim() : 0);
  SHIFTAD_CHECK(z.size(0) > 0, "{}: {} has no rows", fn, name);
  SHIFTAD_CHECK(z.is_floating_point(), "{}: {} must be floating point, got {}", fn, name,
                c10::toString(z.scalar_type()));
}

/// Two feature matrices compared across domains (argument names `a`, `b`) must both be
/// valid and share their feature dimension and dtype; their row counts may differ.
inline void checkSameWidth(const char* fn, const char* a, const torch::Tensor& xa, const char* b,
                           const torch::Tensor& xb) {
  checkFeatures(fn, a, xa);
  checkFeatures(fn, b, xb);
  SHIFTAD_CHECK(xa.size(1) == xb.size(1), "{}: {} has {} columns but {} has {}; both domains need the same features",
                fn, a, xa.size(1), b, xb.size(1));
  // Mixed precision would be promoted silently by torch::cat; the caller should choose.
  SHIFTAD_CHECK(xa.scalar_type() == xb.scalar_type(), "{}: {} is {} but {} is {}; convert both to one dtype", fn, a,
                c10::toString(xa.scalar_type()), b, c10::toString(xb.scalar_type()));
}

}  // namespace shiftad::losses::detail
