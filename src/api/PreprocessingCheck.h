// Warnings for data.* preprocessing that cannot be what the user meant: mean and std on
// the 0-255 scale, and a size or normalisation other than the one model.weights records.
#pragma once

#include "shiftad/Config.h"

namespace shiftad::api {

/// Logs a warning for each: data.mean above 1 or data.std above 5 (pixels are in [0, 1]);
/// data.image_size, data.mean or data.std other than model.weights' metadata says
/// (`input_size`, `normalize_mean`, `normalize_std`, as `shiftad classify` reads them).
/// Metadata that is missing or malformed says nothing here. Once per process and file.
void warnAboutPreprocessing(const Config& cfg);

}  // namespace shiftad::api
