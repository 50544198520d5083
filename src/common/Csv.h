// CSV as shiftad writes and reads it (RFC 4180): fields separated by commas, records
// ended by "\n". A field is quoted only when it holds a comma, a double quote, CR or
// LF, its quotes doubled; so a file of ordinary names and numbers has no quotes at all,
// and a path with a comma still reads back as one field. Used by results.csv, score
// CSVs and test_scores.csv, and by their readers.
#pragma once

#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

namespace shiftad::csv {

/// `value` as one field: as it is, or in double quotes with its quotes doubled when it
/// holds a comma, a double quote, CR or LF.
std::string field(std::string_view value);

/// The fields joined by commas, each through field(); no line end.
std::string row(const std::vector<std::string>& fields);

/// The next record of `in` into `record` (without its line end): one line, or several
/// when a quoted field holds a line break. False at the end of the input. `line`
/// counts the lines read, for messages.
bool readRecord(std::istream& in, std::string& record, int& line);

/// The fields of one record, quotes removed ("a,\"b,c\"," has three: a, b,c and "").
std::vector<std::string> split(std::string_view record);

}  // namespace shiftad::csv
