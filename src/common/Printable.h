// Names from the data shown on a terminal: a class folder named with a line break broke
// check-data's table into two rows, and a file named with "\r\033[2K" erased the warning
// that named it. Every log line of the library goes through printable() (common/Log.h).
#pragma once

#include <string>
#include <string_view>

#include <fmt/format.h>

namespace shiftad {

/// The length of the valid UTF-8 sequence at `text[i]` (RFC 3629: no overlong forms, no
/// surrogates, nothing past U+10FFFF), or 0 when the bytes there are not one.
inline size_t utf8SequenceAt(std::string_view text, size_t i) {
  const auto at = [&](size_t k) { return i + k < text.size() ? static_cast<unsigned char>(text[i + k]) : 0u; };
  const unsigned lead = at(0);
  size_t n = 0;
  unsigned lo = 0x80, hi = 0xBF;  // the second byte's range; later ones are 80..BF
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) n = 2;
  else if (lead >= 0xE0 && lead <= 0xEF) n = 3, lo = lead == 0xE0 ? 0xA0 : 0x80, hi = lead == 0xED ? 0x9F : 0xBF;
  else if (lead >= 0xF0 && lead <= 0xF4) n = 4, lo = lead == 0xF0 ? 0x90 : 0x80, hi = lead == 0xF4 ? 0x8F : 0xBF;
  else return 0;
  if (at(1) < lo || at(1) > hi) return 0;
  for (size_t k = 2; k < n; ++k)
    if (at(k) < 0x80 || at(k) > 0xBF) return 0;
  return n;
}

/// `text` with each control character (C0 and DEL) written as its C escape: \n, \t,
/// \r, else \xNN, and so is each byte that is not part of valid UTF-8 (a Latin-1 name,
/// `caf\xE9`: two such names showed as the same replacement character); a backslash
/// stays as it is. Valid UTF-8 is unchanged.
inline std::string printable(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size();) {
    const char c = text[i];
    const auto u = static_cast<unsigned char>(c);
    const size_t n = utf8SequenceAt(text, i);
    if (n > 1)
      out.append(text.substr(i, n));
    else if (n == 1 && u >= 0x20 && u != 0x7F)
      out += c;
    else if (c == '\n')
      out += "\\n";
    else if (c == '\t')
      out += "\\t";
    else if (c == '\r')
      out += "\\r";
    else
      out += fmt::format("\\x{:02X}", u);
    i += n > 1 ? n : 1;
  }
  return out;
}

}  // namespace shiftad
