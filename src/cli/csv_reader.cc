#include "cli/csv_reader.h"

namespace txv::cli {
namespace {

Error csv_error(std::size_t line, const std::string& what) {
  return make_error("validation_failed", "CSV line " + std::to_string(line) + ": " + what);
}

}  // namespace

int CsvReader::get() { return in_.get(); }

Result<bool> CsvReader::next(std::vector<std::string>& fields) {
  fields.clear();
  if (!started_) {
    started_ = true;
    // A UTF-8 byte order mark (spreadsheets write one) is not data.
    if (in_.peek() == 0xEF) {
      char bom[3] = {};
      in_.read(bom, 3);
      if (in_.gcount() != 3 || static_cast<unsigned char>(bom[1]) != 0xBB ||
          static_cast<unsigned char>(bom[2]) != 0xBF) {
        const std::streamsize got = in_.gcount();
        in_.clear();
        for (std::streamsize i = 0; i < got; ++i) in_.unget();
      }
    }
  }
  int c = get();
  if (c == std::char_traits<char>::eof()) return false;
  record_line_ = current_line_;
  std::string field;
  bool quoted = false;      // inside a quoted field
  bool was_quoted = false;  // the current field was quoted (and closed)
  for (;;) {
    if (quoted) {
      if (c == std::char_traits<char>::eof()) return csv_error(record_line_, "a quoted field is not closed");
      if (c == '"') {
        if (in_.peek() == '"') {
          get();
          field += '"';
        } else {
          quoted = false;
          was_quoted = true;
        }
      } else {
        if (c == '\n') ++current_line_;
        field += static_cast<char>(c);
      }
    } else if (c == ',' || c == '\n' || c == '\r' || c == std::char_traits<char>::eof()) {
      if (c == '\r') {
        if (in_.peek() != '\n') return csv_error(current_line_, "a carriage return outside quotes ends no line");
        get();
        c = '\n';
      }
      fields.push_back(std::move(field));
      field.clear();
      was_quoted = false;
      if (fields.size() > kMaxFields) return csv_error(record_line_, "too many fields");
      if (c == '\n') {
        ++current_line_;
        return true;
      }
      if (c == std::char_traits<char>::eof()) return true;
    } else if (was_quoted) {
      return csv_error(current_line_, "only a comma or a line end may follow a closing quote");
    } else if (c == '"') {
      if (!field.empty()) return csv_error(current_line_, "a quote inside an unquoted field");
      quoted = true;
    } else {
      field += static_cast<char>(c);
    }
    if (field.size() > kMaxFieldBytes) return csv_error(record_line_, "a field is too long");
    c = get();
  }
}

}  // namespace txv::cli
