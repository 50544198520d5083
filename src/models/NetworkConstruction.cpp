#include "models/NetworkConstruction.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/Tensor.h>

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
  bool restores = false;            ///< the global generator's state is put back at the end
  at::Tensor global_state;          ///< ... this one
  at::Generator* stream = nullptr;  ///< swapped into the global generator until the end
};

NetworkConstruction::NetworkConstruction() : NetworkConstruction(nullptr) {}

NetworkConstruction::NetworkConstruction(at::Generator& stream) : NetworkConstruction(&stream) {}

NetworkConstruction::NetworkConstruction(at::Generator* stream) : held_(std::make_unique<Held>()) {
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
