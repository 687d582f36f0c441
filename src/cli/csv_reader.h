// A streaming CSV reader (RFC 4180): records are read one at a time from an
// istream, so a file of any size is read in bounded memory.
//
// Accepted: fields separated by ',', records ended by CRLF or LF (a final
// record without a line end too); a field in double quotes may hold ',', '"'
// (written twice) and line ends; a UTF-8 byte order mark at the very start is
// skipped. Refused (an Error naming the line): a quote inside an unquoted
// field, a character after a closing quote other than ',' or a line end, a
// quoted field still open at the end of the input, a field longer than
// kMaxFieldBytes or a record of more than kMaxFields fields.
#pragma once

#include <cstddef>
#include <istream>
#include <string>
#include <vector>

#include "common/result.h"

namespace txv::cli {

class CsvReader {
 public:
  static constexpr std::size_t kMaxFieldBytes = 64 * 1024;
  static constexpr std::size_t kMaxFields = 64;

  explicit CsvReader(std::istream& in) : in_(in) {}

  // Reads the next record into `fields`. Answers false at the end of the
  // input. `line()` is then the 1-based line on which the record starts.
  // An empty line is a record of one empty field. Errors: "validation_failed"
  // with the line in the message; the reader cannot go on after one.
  Result<bool> next(std::vector<std::string>& fields);
  std::size_t line() const { return record_line_; }

 private:
  int get();
  std::istream& in_;
  std::size_t current_line_ = 1;
  std::size_t record_line_ = 0;
  bool started_ = false;
};

}  // namespace txv::cli
