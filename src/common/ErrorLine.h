// An error's message as one line for a person or a host's log: the `shiftad` command's
// "shiftad: error: ..." and the C API's shiftad_last_error() give the same text.
#pragma once

#include <string>

#include <fmt/format.h>

#include "common/Error.h"
#include "common/Printable.h"

namespace shiftad {

/// One line of an exception's message: without LibTorch's C++ backtrace, line breaks
/// and tabs as one space, at most 4,000 characters (an error can quote a whole value, a
/// 10 MB list in a config), and a name from the data it quotes without control
/// characters (printable: `\n`, `\x1B`), which a terminal or a log would act on.
inline std::string errorLine(std::string message) {
  message = withoutBacktrace(std::move(message));
  constexpr size_t kMaxMessage = 4000;
  if (message.size() > kMaxMessage)
    message = message.substr(0, kMaxMessage) + fmt::format(" ... ({} more characters)", message.size() - kMaxMessage);
  std::string out;
  bool space = false;
  for (char ch : message) {
    if (ch == '\n' || ch == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += ch;
  }
  return printable(out);
}

}  // namespace shiftad
