// Numbers read from text the same in every process. strtod, std::stod and yaml-cpp's
// streams follow the host's C or C++ locale: a program that sets a German or French one
// (GUI toolkits do) had "0.5" read as 5 or refused, and a config's `lr: 0.001` read as 1.
// std::from_chars follows no locale. Torch-free.
#pragma once

#include <charconv>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>

namespace shiftad {

/// The whole of `text` as a T (an integer or floating-point type), in the C locale's
/// form whatever the process's locale: an optional sign ('+' too, as strtod reads it),
/// no spaces; "inf" and "nan" for floating point (callers check finiteness). nullopt
/// when it is not one, or out of T's range (1e400, and 1e-400, which strtod reads as 0).
template <typename T>
std::optional<T> parseNumber(std::string_view text) {
  static_assert(std::is_arithmetic_v<T> && !std::is_same_v<T, bool>);
  if (text.size() > 1 && text.front() == '+' && text[1] != '-') text.remove_prefix(1);
  T value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || end != text.data() + text.size()) return std::nullopt;
  if (ec != std::errc()) return std::nullopt;
  return value;
}

/// parseNumber, or std::invalid_argument naming `text`: for readers of shiftad's own
/// files (results.csv, test_scores.csv) that catch std::exception, as std::stod threw.
template <typename T>
T numberIn(std::string_view text) {
  if (const auto v = parseNumber<T>(text)) return *v;
  throw std::invalid_argument("not a number: '" + std::string(text) + "'");
}

}  // namespace shiftad
