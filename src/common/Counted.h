// "1 image", "2 images": a count with its noun in the number it needs. Torch-free.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace shiftad {

/// `n` and `singular`, or `plural` for any n but 1 (default: singular + "s").
inline std::string counted(uint64_t n, std::string_view singular, std::string_view plural = {}) {
  std::string out = std::to_string(n) + " ";
  if (n == 1) return out.append(singular);
  return plural.empty() ? out.append(singular).append("s") : out.append(plural);
}

}  // namespace shiftad
