// Recognising a file `shiftad export` wrote, before replacing it (`export --out F
// --overwrite` replaces only such a file). Torch-free.
#pragma once

#include <string>

namespace shiftad::exporting {

/// Whether the file at `path` is an ONNX model that shiftad exported: it parses as an
/// ONNX ModelProto whose producer_name is "shiftad" (OnnxGraph sets it). False for
/// anything else, and for a file that cannot be read.
bool isShiftadOnnx(const std::string& path);

}  // namespace shiftad::exporting
