// How many image files Detector::score and Detector::evaluate hold at once: they work
// through the files in chunks of this many, forgetting each chunk's decoded images and
// features once it is scored, so that memory stays flat in the number of files.
#pragma once

#include <cstddef>

namespace shiftad::api {

/// Images per chunk: many inference batches (models::kInferenceImages) and enough files
/// to keep every core decoding, few enough that a chunk's images are a small part of the
/// peak. `shiftad score` of 958 images at 224 px (fine-tuned MobileNetV2, whole
/// processes, medians of 5 pairs): 576 MiB peak at 256 against 768 at 1024, the same
/// wall time (× 1.02) and the same scores.
inline constexpr size_t kScoreChunk = 256;

/// The chunk size in use: kScoreChunk unless setScoreChunk changed it.
size_t scoreChunk();

/// Tests only: chunks of `images` (0: kScoreChunk again), so that a few images span
/// several chunks. Process-wide.
void setScoreChunk(size_t images);

}  // namespace shiftad::api
