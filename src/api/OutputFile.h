// Before any work: whether a file the caller asked for may be written at a path
// (`shiftad score --out`, `export --out`, Detector::exportOnnx, Detector::evaluate's
// scores file). Torch-free: the CLI includes it.
#pragma once

#include <filesystem>
#include <string>
#include <system_error>

#include "shiftad/Error.h"

namespace shiftad::api {

/// What is wrong with `path`, for a file-system error `code` met there, in the user's
/// terms: a link to what does not exist names where it leads; "not a directory" names
/// the file among its folders; else the system's message and what to check.
std::string pathProblem(const std::string& path, std::error_code code);

/// `work`, with a file system error (a path that cannot be made absolute or examined: too
/// long, a loop of links, no permission; a folder that cannot be created) turned into the
/// library's Error, naming the path and what the call was doing (`doing`; the path again
/// only when the error is about another one than `path`), as every other failure of the
/// API is: a program that catches shiftad::Error, as the docs show, does not abort.
template <typename Work>
auto withFilesystemErrors(const std::string& doing, const std::string& path, Work&& work) -> decltype(work()) {
  try {
    return work();
  } catch (const std::filesystem::filesystem_error& e) {
    const auto where = e.path1().string();
    throw Error(doing + ": " + (where == path ? "" : "'" + where + "': ") + pathProblem(where, e.code()));
  }
}

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

/// The first lines of the CSV files shiftad writes: `score`'s rows, and `eval`'s test
/// scores (RUN/test_scores.csv, `eval --out`).
inline constexpr const char* kScoresCsvHeader = "path,score,normalised_score,anomalous";
inline constexpr const char* kTestScoresCsvHeader = "label,score,path";

/// Whether `--overwrite` may replace the existing file at `path`: a file shiftad wrote (a
/// CSV starting with one of the headers above, an ONNX model of `export`), or an empty
/// one, which holds nothing to lose. shiftad never replaces a file it did not create: a
/// config, a list or a notebook named by mistake stays.
bool replaceableOutput(const std::string& path);

/// Refuses `path` (checkOutputFile's) when no file can be created in its folder (no
/// permission, a read-only file system), naming it as `name`: the write beside it found
/// that only after the work (every image scored, the model exported).
void checkFolderTakesAFile(const std::string& path, const std::string& name);

/// Put the complete file `from` (a temporary beside `to`) at `to` only if no file has that
/// name by then (synced, as every commit): a file that appeared at `to` while the work
/// ran (checkOutputFile found none) is another program's and stays. Throws Error naming
/// `to` as `name` (e.g. "--out"); where `to` was taken, `from` is kept and named (the work
/// is not lost), else removed.
void commitNewFile(const std::string& from, const std::string& to, const std::string& name);

}  // namespace shiftad::api
