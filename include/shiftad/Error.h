// shiftad::Error, the one exception type the library throws, in the public API so that a
// program using only include/shiftad/ can catch it. Its message says what is wrong,
// where (the path, key or value at fault) and, when possible, what to do about it.
#pragma once

#include <stdexcept>
#include <string>

namespace shiftad {

/// The one exception type the library throws for bad input or impossible requests.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& msg) : std::runtime_error(msg) {}
};

}  // namespace shiftad
