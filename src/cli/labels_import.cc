#include "cli/labels_import.h"

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <optional>
#include <ostream>
#include <vector>

#include "cli/csv_reader.h"

namespace txv::cli {
namespace {

namespace json = boost::json;

constexpr std::array<std::string_view, 6> kColumns = {"merchant_id", "transaction_id", "label",
                                                      "source",      "reason",         "at"};
constexpr std::size_t kRequiredColumns = 4;  // the first four of kColumns

struct Refused {
  std::size_t line = 0;
  std::string code;
  std::string detail;  // "label: invalid_value, at: invalid_format" or a message
};

// "labels[12].label" -> "label"
std::string strip_item_prefix(std::string_view field) {
  if (field.starts_with("labels[")) {
    auto dot = field.find("].");
    if (dot != std::string_view::npos) return std::string(field.substr(dot + 2));
  }
  return std::string(field);
}

Refused refused_from_error(std::size_t line, const json::value& error) {
  Refused r{line, "unknown", ""};
  const json::object* e = error.if_object();
  if (e == nullptr) return r;
  if (const auto* code = e->if_contains("code"); code && code->is_string()) r.code = std::string(code->get_string());
  if (const auto* details = e->if_contains("details"); details && details->is_array()) {
    for (const auto& d : details->get_array()) {
      const json::object* o = d.if_object();
      if (o == nullptr) continue;
      const auto* field = o->if_contains("field");
      const auto* issue = o->if_contains("issue");
      if (field == nullptr || issue == nullptr || !field->is_string() || !issue->is_string()) continue;
      if (!r.detail.empty()) r.detail += ", ";
      r.detail += strip_item_prefix(field->get_string()) + ": " + std::string(issue->get_string());
    }
  }
  return r;
}

// The server's error message of a refused batch, when it sent one.
std::string error_message(const HttpAnswer& answer) {
  boost::system::error_code ec;
  json::value v = json::parse(answer.body, ec);
  if (!ec && v.is_object()) {
    if (const auto* e = v.as_object().if_contains("error"); e && e->is_object()) {
      const auto& o = e->as_object();
      std::string out;
      if (const auto* c = o.if_contains("code"); c && c->is_string()) out = std::string(c->get_string());
      if (const auto* m = o.if_contains("message"); m && m->is_string()) out += ": " + std::string(m->get_string());
      if (!out.empty()) return out;
    }
  }
  return "HTTP status " + std::to_string(answer.status);
}

class Importer {
 public:
  Importer(const LabelBatchSender& send, const LabelsImportOptions& options, std::ostream& err)
      : send_(send), options_(options), err_(err) {}

  // Sends the pending rows; false when the batch failed as a whole (`failure` says why).
  bool flush() {
    if (items_.empty()) return true;
    json::object body;
    body["labels"] = std::move(items_);
    items_ = json::array();
    std::vector<std::size_t> lines = std::move(lines_);
    lines_.clear();
    auto answer = send_(json::serialize(body));
    if (!answer.ok()) {
      failure = answer.error().message;
      failed_from_line = lines.front();
      return false;
    }
    if (answer->status != 200) {
      failure = "the server refused the batch: " + error_message(*answer);
      failed_from_line = lines.front();
      return false;
    }
    boost::system::error_code ec;
    json::value doc = json::parse(answer->body, ec);
    const json::array* results = nullptr;
    if (!ec && doc.is_object()) {
      if (const auto* r = doc.as_object().if_contains("results"); r && r->is_array()) results = &r->get_array();
    }
    if (results == nullptr || results->size() != lines.size()) {
      failure = "the server's answer to a batch is not a list of one result per row";
      failed_from_line = lines.front();
      return false;
    }
    for (std::size_t i = 0; i < lines.size(); ++i) {
      const json::object* r = (*results)[i].if_object();
      const json::value* error = r ? r->if_contains("error") : nullptr;
      if (error == nullptr) {
        ++accepted;
      } else {
        refused.push_back(refused_from_error(lines[i], *error));
      }
    }
    if (options_.progress) {
      err_ << "\rtxv: labels import: " << accepted + refused.size() << " rows sent (" << accepted << " accepted, "
           << refused.size() << " refused)" << std::flush;
      progress_shown_ = true;
    }
    return true;
  }

  bool add(std::size_t line, json::object item) {
    items_.emplace_back(std::move(item));
    lines_.push_back(line);
    return items_.size() < std::max<std::size_t>(options_.batch_size, 1) || flush();
  }

  void end_progress() {
    if (progress_shown_) err_ << "\n";
  }

  std::size_t accepted = 0;
  std::vector<Refused> refused;
  std::string failure;
  std::size_t failed_from_line = 0;

 private:
  const LabelBatchSender& send_;
  const LabelsImportOptions& options_;
  std::ostream& err_;
  json::array items_;
  std::vector<std::size_t> lines_;
  bool progress_shown_ = false;
};

}  // namespace

int import_labels(std::istream& in, const LabelBatchSender& send, const LabelsImportOptions& options, std::ostream& out,
                  std::ostream& err) {
  CsvReader reader(in);
  std::vector<std::string> fields;
  auto header = reader.next(fields);
  if (!header.ok()) {
    err << "txv: labels import: " << header.error().message << "\n";
    return 1;
  }
  if (!*header) {
    err << "txv: labels import: the file is empty (expected a header row: "
           "merchant_id,transaction_id,label,source,reason,at)\n";
    return 1;
  }
  // column index in the file of each of kColumns
  std::array<std::optional<std::size_t>, kColumns.size()> where;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    std::string name = fields[i];
    std::erase_if(name, [](char c) { return c == ' ' || c == '\t'; });
    auto it = std::find(kColumns.begin(), kColumns.end(), name);
    if (it == kColumns.end()) {
      err << "txv: labels import: line 1: unknown column '" << name
          << "' (the columns are merchant_id, transaction_id, label, source, reason, at)\n";
      return 1;
    }
    auto& slot = where[static_cast<std::size_t>(it - kColumns.begin())];
    if (slot) {
      err << "txv: labels import: line 1: column '" << name << "' appears twice\n";
      return 1;
    }
    slot = i;
  }
  for (std::size_t c = 0; c < kRequiredColumns; ++c) {
    if (!where[c]) {
      err << "txv: labels import: line 1: the header lacks the column '" << kColumns[c] << "'\n";
      return 1;
    }
  }
  const std::size_t width = fields.size();

  Importer importer(send, options, err);
  std::string stopped;  // why the import stopped early
  for (;;) {
    auto more = reader.next(fields);
    if (!more.ok()) {
      if (importer.flush()) {
        stopped = more.error().message + "; the rows after it were not imported";
      } else {
        stopped = importer.failure + " (rows from line " + std::to_string(importer.failed_from_line) +
                  " on were not imported)";
      }
      break;
    }
    if (!*more) {
      if (!importer.flush()) {
        stopped = importer.failure + " (rows from line " + std::to_string(importer.failed_from_line) +
                  " on were not imported)";
      }
      break;
    }
    if (fields.size() == 1 && fields[0].empty()) continue;  // an empty line
    if (fields.size() != width) {
      importer.refused.push_back(
          Refused{reader.line(), "invalid_csv",
                  "expected " + std::to_string(width) + " fields, found " + std::to_string(fields.size())});
      continue;
    }
    json::object item;
    for (std::size_t c = 0; c < kColumns.size(); ++c) {
      if (!where[c]) continue;
      std::string& value = fields[*where[c]];
      // Optional columns: an empty cell is no value.
      if (c >= kRequiredColumns && value.empty()) continue;
      item[kColumns[c]] = std::move(value);
    }
    if (!importer.add(reader.line(), std::move(item))) {
      stopped =
          importer.failure + " (rows from line " + std::to_string(importer.failed_from_line) + " on were not imported)";
      break;
    }
  }
  importer.end_progress();

  std::sort(importer.refused.begin(), importer.refused.end(),
            [](const Refused& a, const Refused& b) { return a.line < b.line; });
  out << importer.accepted << " rows accepted, " << importer.refused.size() << " rows refused\n";
  for (const auto& r : importer.refused) {
    out << "line " << r.line << ": " << r.code;
    if (!r.detail.empty()) out << " (" << r.detail << ")";
    out << "\n";
  }
  out.flush();
  if (!stopped.empty()) {
    err << "txv: labels import stopped: " << stopped << "\n";
    return 1;
  }
  return importer.refused.empty() ? 0 : 1;
}

}  // namespace txv::cli
