#include "export/OnnxFile.h"

#include <fstream>

#include <onnx/onnx_pb.h>  // defines ONNX_API, then includes onnx-ml.pb.h

namespace shiftad::exporting {

bool isShiftadOnnx(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  onnx::ModelProto model;
  return in && model.ParseFromIstream(&in) && model.producer_name() == "shiftad";
}

}  // namespace shiftad::exporting
