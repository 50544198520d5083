// Hand-written, not a library: the dynamic programme is a dozen lines, and none of the
// project's dependencies offers an edit distance.
#include "common/NearestName.h"

#include <algorithm>
#include <cctype>

namespace shiftad {

namespace {

std::string lowered(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

}  // namespace

std::size_t editDistance(const std::string& a, const std::string& b) {
  // d[i][j]: edits between a's first i characters and b's first j.
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i)
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t substitute = d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, substitute});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

std::string nearestName(const std::string& typo, const std::vector<std::string>& known) {
  const std::size_t limit = std::max<std::size_t>(1, typo.size() / 3);
  const auto low = lowered(typo);
  std::string best;
  std::size_t best_distance = limit + 1;
  bool tie = false;
  for (const auto& name : known) {
    const auto distance = editDistance(low, lowered(name));
    if (distance < best_distance) {
      best = name;
      best_distance = distance;
      tie = false;
    } else if (distance == best_distance && name != best) {
      tie = true;
    }
  }
  if (best_distance <= limit && !tie) return best;
  // Else a name cut short: "train.batch" for train.batch_size, if no other name starts so.
  std::vector<std::string> longer;
  for (const auto& name : known)
    if (name.size() > typo.size() && lowered(name).rfind(low, 0) == 0) longer.push_back(name);
  return longer.size() == 1 ? longer.front() : "";
}

std::string didYouMean(const std::string& typo, const std::vector<std::string>& known) {
  const auto name = nearestName(typo, known);
  return name.empty() ? "" : " (did you mean '" + name + "'?)";
}

}  // namespace shiftad
