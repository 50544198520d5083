// The readers under test take paths: each input is written to one file per process.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

namespace shiftad::fuzz {

inline std::string writeInput(const uint8_t* data, size_t size, const char* ext) {
  static const std::string path = "/tmp/shiftad-fuzz-" + std::to_string(::getpid()) + ext;
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (size) std::fwrite(data, 1, size, f);
  std::fclose(f);
  return path;
}

}  // namespace shiftad::fuzz
