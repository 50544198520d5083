#include "models/NetworkConstruction.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/Tensor.h>
#include <c10/core/DefaultDtype.h>

#include <mutex>

namespace shiftad::models {

namespace {

std::recursive_mutex& constructionMutex() {
  static std::recursive_mutex m;
  return m;
}

/// Whether a construction this thread holds draws from a stream: one nested in it draws
/// from the same stream, not from one of its own, and does not restore anything.
thread_local bool streaming = false;

}  // namespace

struct NetworkConstruction::Held {
  std::unique_lock<std::recursive_mutex> lock{constructionMutex()};
  /// The default dtype while building: float32, whatever the host set (a host with
  /// torch::set_default_dtype(double) got float64 networks, which refused float32 inputs).
  caffe2::TypeMeta host_dtype = c10::get_default_dtype();
  bool restores = false;            ///< the global generator's state is put back at the end
  at::Tensor global_state;          ///< ... this one
  at::Generator* stream = nullptr;  ///< swapped into the global generator until the end
};

NetworkConstruction::NetworkConstruction() : NetworkConstruction(nullptr) {}

NetworkConstruction::NetworkConstruction(at::Generator& stream) : NetworkConstruction(&stream) {}

NetworkConstruction::NetworkConstruction(at::Generator* stream) : held_(std::make_unique<Held>()) {
  c10::set_default_dtype(caffe2::TypeMeta::Make<float>());
  if (streaming) return;
  auto global = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> g(global.mutex());
  held_->global_state = global.get_state();
  held_->restores = true;
  if (!stream) return;
  global.set_state(stream->get_state());
  held_->stream = stream;
  streaming = true;
}

NetworkConstruction::~NetworkConstruction() {
  c10::set_default_dtype(held_->host_dtype);
  if (!held_->restores) return;
  auto global = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> g(global.mutex());
  if (held_->stream) {
    held_->stream->set_state(global.get_state());
    streaming = false;
  }
  global.set_state(held_->global_state);
}

at::Generator constructionStream(uint64_t seed) { return at::detail::createCPUGenerator(seed); }

}  // namespace shiftad::models
