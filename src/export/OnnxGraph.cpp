#include "export/OnnxGraph.h"

#include <onnx/checker.h>
#include <onnx/onnx_pb.h>  // defines ONNX_API, then includes onnx-ml.pb.h
#include <torch/torch.h>

#include "common/Error.h"

#ifndef SHIFTAD_VERSION
#define SHIFTAD_VERSION "unknown"
#endif

namespace shiftad::exporting {

namespace {

// ONNX Runtime 1.30 runs IR 8 with opset 13 (shared/notes/platform-recipes.md); every
// operator the emitters use exists in opset 13 with the semantics written here.
constexpr int64_t kIrVersion = 8;
constexpr int64_t kOpset = 13;

int32_t elementType(OnnxElement e) {
  return e == OnnxElement::kUint8 ? onnx::TensorProto::UINT8 : onnx::TensorProto::FLOAT;
}

void setValueInfo(onnx::ValueInfoProto* v, const std::string& name, OnnxElement element,
                  const std::vector<OnnxDim>& dims) {
  v->set_name(name);
  auto* tensor = v->mutable_type()->mutable_tensor_type();
  tensor->set_elem_type(elementType(element));
  auto* shape = tensor->mutable_shape();
  for (const auto& d : dims) {
    auto* dim = shape->add_dim();
    if (const auto* size = std::get_if<int64_t>(&d))
      dim->set_dim_value(*size);
    else
      dim->set_dim_param(std::get<std::string>(d));
  }
}

void setAttribute(onnx::AttributeProto* a, const OnnxAttribute& attribute) {
  a->set_name(attribute.name);
  if (const auto* i = std::get_if<int64_t>(&attribute.value)) {
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(*i);
  } else if (const auto* f = std::get_if<float>(&attribute.value)) {
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(*f);
  } else {
    a->set_type(onnx::AttributeProto::INTS);
    for (int64_t v : std::get<std::vector<int64_t>>(attribute.value)) a->add_ints(v);
  }
}

}  // namespace

struct OnnxGraph::Impl {
  onnx::GraphProto graph;
  std::map<std::string, int> used;  ///< names given so far, with their count

  std::string unique(const std::string& name) {
    const int n = used[name]++;
    return n == 0 ? name : name + "_" + std::to_string(n);
  }

  onnx::NodeProto* addNode(const std::string& op, const std::vector<std::string>& inputs, const std::string& output) {
    auto* n = graph.add_node();
    n->set_op_type(op);
    n->set_name(output);
    for (const auto& in : inputs) n->add_input(in);
    n->add_output(output);
    return n;
  }
};

OnnxGraph::OnnxGraph() : impl_(std::make_unique<Impl>()) {}
OnnxGraph::~OnnxGraph() = default;

std::string OnnxGraph::constant(const std::string& name, const torch::Tensor& value) {
  const bool is_int = value.scalar_type() == torch::kInt64;
  const auto t = value.to(is_int ? torch::kInt64 : torch::kFloat32).contiguous();
  auto* init = impl_->graph.add_initializer();
  init->set_name(impl_->unique(name));
  for (int64_t d : t.sizes()) init->add_dims(d);
  init->set_data_type(is_int ? onnx::TensorProto::INT64 : onnx::TensorProto::FLOAT);
  // raw_data is little-endian, as torch's CPU tensors are on every platform it builds for.
  init->set_raw_data(t.data_ptr(), static_cast<size_t>(t.numel()) * t.element_size());
  return init->name();
}

std::string OnnxGraph::ints(const std::string& name, const std::vector<int64_t>& values) {
  return constant(name, torch::tensor(values, torch::kInt64));
}

std::string OnnxGraph::node(const std::string& op, const std::vector<std::string>& inputs,
                            const std::vector<OnnxAttribute>& attributes, const std::string& name) {
  const auto output = impl_->unique(name.empty() ? op : name);
  auto* n = impl_->addNode(op, inputs, output);
  for (const auto& a : attributes) setAttribute(n->add_attribute(), a);
  return output;
}

void OnnxGraph::nodeTo(const std::string& op, const std::vector<std::string>& inputs, const std::string& output,
                       const std::vector<OnnxAttribute>& attributes) {
  auto* n = impl_->addNode(op, inputs, impl_->unique(output));
  for (const auto& a : attributes) setAttribute(n->add_attribute(), a);
}

void OnnxGraph::addInput(const std::string& name, OnnxElement element, const std::vector<OnnxDim>& dims) {
  setValueInfo(impl_->graph.add_input(), impl_->unique(name), element, dims);
}

void OnnxGraph::addOutput(const std::string& name, OnnxElement element, const std::vector<OnnxDim>& dims) {
  setValueInfo(impl_->graph.add_output(), name, element, dims);
}

std::string OnnxGraph::serialize(const std::string& graph_name, const std::string& doc,
                                 const std::map<std::string, std::string>& metadata) const {
  onnx::ModelProto model;
  model.set_ir_version(kIrVersion);
  model.set_producer_name("shiftad");
  model.set_producer_version(SHIFTAD_VERSION);
  model.set_doc_string(doc);
  auto* opset = model.add_opset_import();
  opset->set_domain("");
  opset->set_version(kOpset);
  for (const auto& [key, value] : metadata) {
    auto* p = model.add_metadata_props();
    p->set_key(key);
    p->set_value(value);
  }
  *model.mutable_graph() = impl_->graph;
  model.mutable_graph()->set_name(graph_name);
  try {
    onnx::checker::check_model(model);
  } catch (const std::exception& e) {
    SHIFTAD_THROW("internal: the exported ONNX graph '{}' fails onnx::checker: {}", graph_name, e.what());
  }
  std::string bytes;
  SHIFTAD_CHECK(model.SerializeToString(&bytes), "internal: the ONNX model '{}' could not be serialized", graph_name);
  return bytes;
}

}  // namespace shiftad::exporting
