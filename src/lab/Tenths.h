// Percentages as the reports show them: one decimal, and one integer (tenths of a
// percent) behind every cell, bold mark, rank and gap, so that what a report compares
// is what it shows. Torch-free.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>

#include <fmt/format.h>

namespace shiftad::evaluation {

/// `percent` in tenths, rounded half away from zero as its decimal value would be, not
/// as its binary double is: a mean of exactly 78.15 % is held as 78.1499..., which
/// "{:.1f}" showed as 78.1 while an exact 63.85 (63.8500...1) showed as 63.9. The
/// allowance (1e-9 of the value) is far above a mean's rounding noise and far below
/// the 1e-6 of an AUROC's last digit in results.csv.
inline long shownTenths(double percent) {
  const double t = std::abs(percent) * 10;
  const long r = static_cast<long>(std::floor(t + 0.5 + 1e-9 * std::max(1.0, t)));
  return percent < 0 ? -r : r;
}

/// "78.2", "-1.5", "0.0" (never "-0.0").
inline std::string tenthsText(long tenths) {
  return fmt::format("{}{}.{}", tenths < 0 ? "-" : "", std::labs(tenths) / 10, std::labs(tenths) % 10);
}

/// A gap between two shown values: "+1.2", "-0.3", or "0.0" for a tie.
inline std::string gapText(long tenths) { return (tenths > 0 ? "+" : "") + tenthsText(tenths); }

/// shownTenths then tenthsText: a percentage as a report shows it.
inline std::string percentText(double percent) { return tenthsText(shownTenths(percent)); }

}  // namespace shiftad::evaluation
