#include "store/list_change.h"

#include <openssl/evp.h>

#include <algorithm>
#include <boost/json.hpp>
#include <iterator>
#include <new>

#include "common/hex.h"

namespace txv::store {
namespace json = boost::json;

namespace {

EVP_MD_CTX* ctx_of(void* p) { return static_cast<EVP_MD_CTX*>(p); }

bool contains(std::span<const std::string> sorted, std::string_view value) {
  auto it = std::lower_bound(sorted.begin(), sorted.end(), value,
                             [](const std::string& a, std::string_view b) { return std::string_view(a) < b; });
  return it != sorted.end() && std::string_view(*it) == value;
}

void set_before(ListChange& change, const std::optional<std::span<const std::string>>& current) {
  change.existed = current.has_value();
  if (current) {
    change.entry_count_before = static_cast<std::int64_t>(current->size());
    change.digest_before = list_digest(*current);
  }
}

json::array sample(const std::vector<std::string_view>& values, std::size_t n) {
  json::array a;
  a.reserve(std::min(values.size(), n));
  for (std::size_t i = 0; i < values.size() && i < n; ++i) a.emplace_back(json::string_view(values[i]));
  return a;
}

}  // namespace

ListDigest::ListDigest() : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr || EVP_DigestInit_ex(ctx_of(ctx_), EVP_sha256(), nullptr) != 1) throw std::bad_alloc();
}

ListDigest::~ListDigest() { EVP_MD_CTX_free(ctx_of(ctx_)); }

void ListDigest::add(std::string_view entry) {
  if (!first_) EVP_DigestUpdate(ctx_of(ctx_), "\n", 1);
  first_ = false;
  EVP_DigestUpdate(ctx_of(ctx_), entry.data(), entry.size());
}

std::string ListDigest::finish() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx_of(ctx_), md, &len);
  return hex_encode(md, len);
}

std::string list_digest(std::span<const std::string_view> sorted) {
  ListDigest d;
  for (auto v : sorted) d.add(v);
  return d.finish();
}

std::string list_digest(std::span<const std::string> sorted) {
  ListDigest d;
  for (const auto& v : sorted) d.add(v);
  return d.finish();
}

std::vector<std::string_view> sort_unique(std::span<const std::string> entries) {
  std::vector<std::string_view> out(entries.begin(), entries.end());
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

ListChange diff_replace(const std::optional<std::span<const std::string>>& current,
                        std::span<const std::string_view> wanted_sorted) {
  ListChange change;
  set_before(change, current);
  if (current) {
    std::span<const std::string> old = *current;
    auto less = [](std::string_view a, std::string_view b) { return a < b; };
    std::vector<std::string_view> old_views(old.begin(), old.end());
    std::set_difference(wanted_sorted.begin(), wanted_sorted.end(), old_views.begin(), old_views.end(),
                        std::back_inserter(change.added), less);
    std::set_difference(old_views.begin(), old_views.end(), wanted_sorted.begin(), wanted_sorted.end(),
                        std::back_inserter(change.removed), less);
  } else {
    change.added.assign(wanted_sorted.begin(), wanted_sorted.end());
  }
  change.entry_count = static_cast<std::int64_t>(wanted_sorted.size());
  change.digest = list_digest(wanted_sorted);
  return change;
}

ListChange diff_add(const std::optional<std::span<const std::string>>& current, std::span<const std::string> entries) {
  ListChange change;
  set_before(change, current);
  std::span<const std::string> old = current ? *current : std::span<const std::string>{};
  // Keep the request's order; skip duplicates within the request.
  std::vector<std::string_view> seen = sort_unique(entries);
  std::vector<bool> taken(seen.size(), false);
  for (const auto& e : entries) {
    auto it = std::lower_bound(seen.begin(), seen.end(), std::string_view(e));
    auto i = static_cast<std::size_t>(it - seen.begin());
    if (taken[i]) continue;
    taken[i] = true;
    if (!contains(old, e)) change.added.emplace_back(e);
  }
  change.entry_count = static_cast<std::int64_t>(old.size() + change.added.size());
  std::vector<std::string_view> after = content_after_add(old, change);
  change.digest = list_digest(after);
  return change;
}

std::optional<ListChange> diff_remove(const std::optional<std::span<const std::string>>& current,
                                      std::string_view value) {
  if (!current || !contains(*current, value)) return std::nullopt;
  ListChange change;
  set_before(change, current);
  ListDigest d;
  bool removed = false;
  for (const auto& e : *current) {
    if (!removed && std::string_view(e) == value) {
      change.removed.emplace_back(e);
      removed = true;
      continue;
    }
    d.add(e);
  }
  change.entry_count = change.entry_count_before - 1;
  change.digest = d.finish();
  return change;
}

std::vector<std::string_view> content_after_add(std::span<const std::string> current, const ListChange& change) {
  std::vector<std::string_view> added(change.added.begin(), change.added.end());
  std::sort(added.begin(), added.end());
  std::vector<std::string_view> out;
  out.reserve(current.size() + added.size());
  std::merge(current.begin(), current.end(), added.begin(), added.end(), std::back_inserter(out),
             [](std::string_view a, std::string_view b) { return a < b; });
  return out;
}

std::string list_audit_before_json(const ListChange& change) {
  if (!change.existed) return "null";
  json::object o;
  o["entry_count"] = change.entry_count_before;
  o["sha256"] = change.digest_before;
  return json::serialize(o);
}

std::string list_audit_after_json(const ListChange& change, std::size_t sample_entries) {
  json::object o;
  o["added"] = sample(change.added, sample_entries);
  o["removed"] = sample(change.removed, sample_entries);
  o["added_count"] = static_cast<std::int64_t>(change.added.size());
  o["removed_count"] = static_cast<std::int64_t>(change.removed.size());
  o["entry_count"] = change.entry_count;
  o["sha256"] = change.digest;
  o["truncated"] = change.added.size() > sample_entries || change.removed.size() > sample_entries;
  return json::serialize(o);
}

Result<ListChange> plan_list_change(const std::string& name, const ListOpInput& in,
                                    const std::optional<std::span<const std::string>>& current,
                                    std::vector<std::string_view>& wanted) {
  switch (in.op) {
    case ListOp::kReplace:
      wanted = sort_unique(*in.entries);
      return diff_replace(current, wanted);
    case ListOp::kAdd:
      return diff_add(current, *in.entries);
    case ListOp::kRemove: {
      auto removed = diff_remove(current, *in.value);
      if (!removed) {
        return make_error("not_found", current ? "list " + name + " has no such entry" : "list " + name + " not found");
      }
      return std::move(*removed);
    }
  }
  return make_error("internal", "unknown list operation");
}

namespace {

// The code points of valid UTF-8 text (nullopt when it is not valid).
std::optional<std::vector<char32_t>> decode_utf8(std::string_view text) {
  std::vector<char32_t> out;
  std::size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    const int extra = lead < 0x80 ? 0 : (lead >> 5) == 0x6 ? 1 : (lead >> 4) == 0xE ? 2 : (lead >> 3) == 0x1E ? 3 : -1;
    if (extra < 0 || text.size() - i <= static_cast<std::size_t>(extra)) return std::nullopt;
    char32_t cp = extra == 0 ? lead : lead & (0x3F >> extra);
    for (int k = 1; k <= extra; ++k) {
      const auto cont = static_cast<unsigned char>(text[i + static_cast<std::size_t>(k)]);
      if ((cont >> 6) != 0x2) return std::nullopt;
      cp = (cp << 6) | (cont & 0x3F);
    }
    static constexpr char32_t kMinForLength[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMinForLength[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return std::nullopt;
    out.push_back(cp);
    i += static_cast<std::size_t>(extra) + 1;
  }
  return out;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

}  // namespace

bool is_valid_utf8(std::string_view text) { return decode_utf8(text).has_value(); }

std::optional<std::string> prefix_upper_bound(std::string_view prefix) {
  auto cps = decode_utf8(prefix);
  if (!cps) return std::nullopt;
  while (!cps->empty() && cps->back() == 0x10FFFF) cps->pop_back();
  if (cps->empty()) return std::nullopt;
  cps->back() = cps->back() == 0xD7FF ? 0xE000 : cps->back() + 1;
  std::string out;
  for (char32_t cp : *cps) append_utf8(out, cp);
  return out;
}

}  // namespace txv::store
