// An ONNX graph under construction: constants, nodes, typed inputs and outputs, and the
// model file they make (opset 13, checked by onnx::checker before it is written).
//
// The ONNX protobuf classes (libonnx-dev) stay inside OnnxGraph.cpp: this header
// speaks torch tensors and names, so the emitters need no protobuf header.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include <torch/types.h>

namespace shiftad::exporting {

/// A node attribute: an int, a float, a list of ints.
struct OnnxAttribute {
  std::string name;
  std::variant<int64_t, float, std::vector<int64_t>> value;
};

/// Element types of graph inputs and outputs.
enum class OnnxElement { kFloat, kUint8 };

/// A dimension of a graph input or output: a size, or a symbolic name (e.g. the batch "N").
using OnnxDim = std::variant<int64_t, std::string>;

class OnnxGraph {
 public:
  OnnxGraph();
  ~OnnxGraph();
  OnnxGraph(const OnnxGraph&) = delete;
  OnnxGraph& operator=(const OnnxGraph&) = delete;

  /// A constant (an initializer) holding `value` (float32 or int64, copied); returns
  /// its name: `name`, made unique.
  std::string constant(const std::string& name, const torch::Tensor& value);
  /// A one-dimensional int64 constant (shapes, axes, slice bounds).
  std::string ints(const std::string& name, const std::vector<int64_t>& values);

  /// A node of `op` with one output, named after `name` (made unique); returns that name.
  std::string node(const std::string& op, const std::vector<std::string>& inputs,
                   const std::vector<OnnxAttribute>& attributes = {}, const std::string& name = "");
  /// A node whose single output is called exactly `output` (the graph's outputs).
  void nodeTo(const std::string& op, const std::vector<std::string>& inputs, const std::string& output,
              const std::vector<OnnxAttribute>& attributes = {});

  void addInput(const std::string& name, OnnxElement element, const std::vector<OnnxDim>& dims);
  void addOutput(const std::string& name, OnnxElement element, const std::vector<OnnxDim>& dims);

  /// The model file's bytes (ir_version 8, opset 13, producer shiftad), with
  /// `metadata` as metadata_props; onnx::checker::check_model validates it first
  /// (an Error naming what it rejects).
  std::string serialize(const std::string& graph_name, const std::string& doc,
                        const std::map<std::string, std::string>& metadata) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace shiftad::exporting
