// Exceptions with precise messages (in the spirit of faiss' FAISS_THROW_IF_NOT_MSG).
// Every user-facing error says what is wrong, where (path, key, value) and, when
// possible, what to do about it. Torch-free on purpose: included everywhere.
#pragma once

#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace shiftad {

/// The one exception type the library throws for bad input or impossible requests.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& msg) : std::runtime_error(msg) {}
};

}  // namespace shiftad

/// Throw shiftad::Error with a fmt-formatted message.
#define SHIFTAD_THROW(...) throw ::shiftad::Error(::fmt::format(__VA_ARGS__))

/// Throw shiftad::Error with a fmt-formatted message unless `cond` holds.
#define SHIFTAD_CHECK(cond, ...)                                     \
  do {                                                               \
    if (!(cond)) throw ::shiftad::Error(::fmt::format(__VA_ARGS__)); \
  } while (0)
