// Exceptions with precise messages (in the spirit of faiss' FAISS_THROW_IF_NOT_MSG).
// Every user-facing error says what is wrong, where (path, key, value) and, when
// possible, what to do about it. Torch-free on purpose: included everywhere. The
// exception type itself is public (include/shiftad/Error.h); the fmt-based macros that
// throw it are the library's own.
#pragma once

#include <string>

#include <fmt/format.h>

#include "shiftad/Error.h"

namespace shiftad {

/// `message` without the C++ backtrace LibTorch appends to its errors (c10::Error, after
/// "Exception raised from" or "frame #0"): dozens of lines of addresses, useless to a
/// user, that reached a C caller's shiftad_last_error whole.
inline std::string withoutBacktrace(std::string message) {
  for (const char* backtrace : {"\nException raised from", "\nframe #0"})
    if (const auto at = message.find(backtrace); at != std::string::npos) message.resize(at);
  return message;
}

}  // namespace shiftad

/// Throw shiftad::Error with a fmt-formatted message.
#define SHIFTAD_THROW(...) throw ::shiftad::Error(::fmt::format(__VA_ARGS__))

/// Throw shiftad::Error with a fmt-formatted message unless `cond` holds.
#define SHIFTAD_CHECK(cond, ...)                                     \
  do {                                                               \
    if (!(cond)) throw ::shiftad::Error(::fmt::format(__VA_ARGS__)); \
  } while (0)
