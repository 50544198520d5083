// Names from the data shown on a terminal: a class folder named with a line break broke
// check-data's table into two rows, and a file named with "\r\033[2K" erased the warning
// that named it. Every log line of the library goes through printable() (common/Log.h).
#pragma once

#include <string>
#include <string_view>

#include <fmt/format.h>

namespace shiftad {

/// `text` with each control character (C0 and DEL) written as its C escape: \n, \t,
/// \r, else \xNN; a backslash stays as it is. Other bytes, UTF-8 included, unchanged.
inline std::string printable(std::string_view text) {
  std::string out;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u != 0x7F)
      out += c;
    else if (c == '\n')
      out += "\\n";
    else if (c == '\t')
      out += "\\t";
    else if (c == '\r')
      out += "\\r";
    else
      out += fmt::format("\\x{:02X}", u);
  }
  return out;
}

}  // namespace shiftad
