// Before any work: whether a file the caller asked for may be written at a path
// (`shiftad score --out`, `export --out`, Detector::exportOnnx, Detector::evaluate's
// scores file). Torch-free: the CLI includes it.
#pragma once

#include <string>
#include <system_error>

namespace shiftad::api {

/// What is wrong with `path`, for a file-system error `code` met there, in the user's
/// terms: a link to what does not exist names where it leads; "not a directory" names
/// the file among its folders; else the system's message and what to check.
std::string pathProblem(const std::string& path, std::error_code code);

/// The file to write for `path`, checked before any work: `path`, or where its symbolic
/// links lead (a link is written through and kept, never replaced by a file; a link into
/// /proc, such as /dev/stdout, is refused: it leads to a process's open file). Throws
/// Error unless that names a file that writing may create or replace: not
/// empty, not a folder, not a pipe, socket or device (writing would replace the node),
/// in a folder that exists, and not inside a shiftad run folder, whose files only a run
/// writes (it could replace a model, and would make the folder one that `train
/// --overwrite` refuses), except a file named `run_file` there ("": none). Messages name
/// the path as `name` (e.g. "--out", "output file") and what to give (`kind`, e.g. "an
/// .onnx file").
std::string checkOutputFile(const std::string& path, const std::string& kind, const std::string& name,
                            const std::string& run_file = "");

}  // namespace shiftad::api
