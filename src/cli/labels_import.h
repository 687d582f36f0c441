// `txv labels import FILE.csv` (contract sections 1 and 9): streams a CSV file
// of labels to a running server through POST /v1/labels/batch.
//
// The file: a header row naming the columns merchant_id, transaction_id,
// label, source (required) and reason, at (optional), in any order; then one
// label per row (RFC 4180 quoting; empty lines skipped; an empty reason or at
// cell means none). Rows are sent in batches of `batch_size` as they are
// read, so memory does not grow with the file.
//
// Output: while running, a progress line on stderr when stderr is a terminal;
// at the end, on stdout, "N rows accepted, M rows refused" and one line per
// refused row: "line L: CODE (field: issue, ...)". L is the line on which the
// row starts (the header is line 1).
//
// Exit code: 0 when every row was accepted; 1 when some row was refused or
// the import stopped early (unreadable file, bad header, malformed CSV, the
// server unreachable or refusing a whole batch: the summary then says which
// rows were sent; the rows of a batch that failed as a whole are counted as
// not imported).
#pragma once

#include <cstddef>
#include <functional>
#include <iosfwd>
#include <string>

#include "cli/http_client.h"
#include "common/result.h"

namespace txv::cli {

// Sends one batch body ({"labels":[…]}) and answers the server's response.
using LabelBatchSender = std::function<Result<HttpAnswer>(const std::string& body)>;

struct LabelsImportOptions {
  std::size_t batch_size = 1000;
  bool progress = false;  // write a progress line to `err`
};

int import_labels(std::istream& in, const LabelBatchSender& send, const LabelsImportOptions& options, std::ostream& out,
                  std::ostream& err);

}  // namespace txv::cli
