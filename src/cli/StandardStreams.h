// The CLI's standard streams: a descriptor the caller closed, and output that could
// not be written. `shiftad score --out - > results.csv` on a full disk wrote part of
// the CSV and exited 0; with stdout closed, the first file the command opened became
// descriptor 1 and printing would have written into it.
#pragma once

namespace shiftad::cli {

/// Open /dev/null on any of descriptors 0, 1 and 2 the process was started without, so
/// that no file the command opens takes their place. Call first in main.
void openClosedStandardStreams();

/// Whether the process was started with standard output closed (it is /dev/null now).
bool standardOutputWasClosed();

/// Flush stdout; throws std::runtime_error naming the reason when that, or any write
/// before it, failed (a full disk, a device error, a closed pipe with SIGPIPE ignored).
void flushStandardOutput();

}  // namespace shiftad::cli
