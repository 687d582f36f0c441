// What one change to a named list does, computed from the list's current
// content and the request, independent of any storage back-end: the entries
// added and removed, the counts, a digest of the content before and after, and
// the bounded audit entry that records it (stores.h, ListStore).
//
// A back-end reads the current content (one snapshot), calls diff_replace /
// diff_add / diff_remove, applies `added` and `removed` (or stages the new
// content), and appends list_audit_before_json / list_audit_after_json.
//
// Digest: lower-case hex SHA-256 of the content's entries, sorted bytewise,
// joined by '\n' (no trailing newline; the empty list hashes the empty string).
//
// Audit entry of a list change (object_type "list"):
//   before: null when the list did not exist, else {"entry_count", "sha256"}
//   after:  {"added": [...], "removed": [...], "added_count", "removed_count",
//            "entry_count", "sha256", "truncated"}
// "added"/"removed" hold at most ListStore::kAuditSampleEntries entries each
// (a replace's in bytewise order, an add's in the order given, first ones
// first); "truncated" is true when either was cut. An entry is therefore
// bounded whatever the size of the list or of the change.
//
// Thread-safety: pure functions. The string_views of a ListChange point into
// the caller's inputs (`current` and the request's entries), which must
// outlive it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace txv::store {

// Incremental list digest (see above). Not copyable.
class ListDigest {
 public:
  ListDigest();
  ~ListDigest();
  ListDigest(const ListDigest&) = delete;
  ListDigest& operator=(const ListDigest&) = delete;
  // Adds the next entry; entries must come in bytewise order.
  void add(std::string_view entry);
  // The hex digest; the object must not be used afterwards.
  std::string finish();

 private:
  void* ctx_;  // EVP_MD_CTX
  bool first_ = true;
};

// The digest of `sorted` (bytewise order, distinct).
std::string list_digest(std::span<const std::string_view> sorted);
std::string list_digest(std::span<const std::string> sorted);

// The distinct entries of `entries`, sorted bytewise (views into `entries`).
std::vector<std::string_view> sort_unique(std::span<const std::string> entries);

struct ListChange {
  bool existed = false;  // the list existed before the change
  std::int64_t entry_count_before = 0;
  std::string digest_before;              // of the content before ("" when !existed)
  std::vector<std::string_view> added;    // replace: sorted; add: in request order
  std::vector<std::string_view> removed;  // sorted
  std::int64_t entry_count = 0;           // after
  std::string digest;                     // of the content after
};

// `current` is the list's content (sorted, distinct); nullopt when the list
// does not exist. `wanted_sorted` comes from sort_unique().
ListChange diff_replace(const std::optional<std::span<const std::string>>& current,
                        std::span<const std::string_view> wanted_sorted);
// Adds `entries` (any order, duplicates allowed); only the ones not present
// count as added.
ListChange diff_add(const std::optional<std::span<const std::string>>& current, std::span<const std::string> entries);
// nullopt when `value` is not in the list (or the list does not exist).
std::optional<ListChange> diff_remove(const std::optional<std::span<const std::string>>& current,
                                      std::string_view value);

// The new content (sorted) after an add: `current` merged with the added
// entries. Views into `current` and into the added entries.
std::vector<std::string_view> content_after_add(std::span<const std::string> current, const ListChange& change);

// The three list operations of the ListStore, planned the same way by every back-end.
enum class ListOp { kReplace, kAdd, kRemove };
struct ListOpInput {
  ListOp op = ListOp::kReplace;
  const std::vector<std::string>* entries = nullptr;  // kReplace, kAdd
  const std::string* value = nullptr;                 // kRemove
};
// Plans `in` against the list's current content (nullopt: the list does not
// exist). A replace's sorted new content goes to `wanted` (views into
// *in.entries). Errors: "not_found" for a remove of a value (or list) that
// does not exist, naming the list `name`.
Result<ListChange> plan_list_change(const std::string& name, const ListOpInput& in,
                                    const std::optional<std::span<const std::string>>& current,
                                    std::vector<std::string_view>& wanted);

std::string list_audit_before_json(const ListChange& change);
std::string list_audit_after_json(const ListChange& change, std::size_t sample_entries);

// Prefix search over a list's entries (ListStore::list_entries_page) as an
// index range: every string that starts with `prefix` is >= prefix and <
// the returned bound, and no other string is in that range (bytewise order,
// which for UTF-8 is code point order). The bound is valid UTF-8: the prefix
// with its trailing U+10FFFF code points dropped and its last code point
// incremented (skipping surrogates). nullopt: no upper bound (an empty prefix,
// or one of U+10FFFF only). `prefix` must be valid UTF-8.
std::optional<std::string> prefix_upper_bound(std::string_view prefix);

// Whether `text` is well-formed UTF-8 (no overlong forms, surrogates or code
// points beyond U+10FFFF).
bool is_valid_utf8(std::string_view text);

}  // namespace txv::store
