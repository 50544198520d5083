// The known name a mistyped one most likely meant, for "did you mean ...?" in errors.
#pragma once

#include <string>
#include <vector>

namespace shiftad {

/// Edits between `a` and `b`: insertions, deletions, substitutions and swaps of two
/// neighbouring characters, each one edit (the optimal string alignment distance).
std::size_t editDistance(const std::string& a, const std::string& b);

/// The name of `known` fewest edits away from `typo`, if that is at most a third of the
/// typo's length (at least 1) and no other name is as near; else the one name that
/// starts with the typo (`train.batch`: train.batch_size); else "". Case is ignored, so
/// `Train.LR` finds `train.lr`.
std::string nearestName(const std::string& typo, const std::vector<std::string>& known);

/// " (did you mean 'NAME'?)" for nearestName's answer, or "" when there is none.
std::string didYouMean(const std::string& typo, const std::vector<std::string>& known);

}  // namespace shiftad
