// Internal helpers shared by the clustering algorithms: row blocks, so that no step
// materialises an n x n or n x k x d tensor. Not part of the public API.
#pragma once

#include <algorithm>
#include <cstdint>

namespace shiftad::clustering::detail {

/// Call fn(begin, end) over consecutive blocks of at most `rows` rows out of n.
template <typename Fn>
void forEachBlock(int64_t n, int64_t rows, Fn&& fn) {
  for (int64_t begin = 0; begin < n; begin += rows) fn(begin, std::min(n, begin + rows));
}

/// Rows per block such that a block of `rows x width` entries stays within `budget`
/// entries (at least one row, at most n).
inline int64_t rowsWithin(int64_t budget, int64_t width, int64_t n) {
  return std::clamp<int64_t>(budget / std::max<int64_t>(width, 1), 1, std::max<int64_t>(n, 1));
}

}  // namespace shiftad::clustering::detail
