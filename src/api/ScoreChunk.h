// How many image files Detector::score and Detector::evaluate hold at once: they work
// through the files in chunks of this many, forgetting each chunk's decoded images and
// features once it is scored, so that memory stays flat in the number of files.
#pragma once

#include <cstddef>

namespace shiftad::api {

/// Images per chunk: large enough that batching and progress lines stay efficient,
/// small enough that a chunk of 224 px images holds a few hundred MB at most.
inline constexpr size_t kScoreChunk = 1024;

/// The chunk size in use: kScoreChunk unless setScoreChunk changed it.
size_t scoreChunk();

/// Tests only: chunks of `images` (0: kScoreChunk again), so that a few images span
/// several chunks. Process-wide.
void setScoreChunk(size_t images);

}  // namespace shiftad::api
