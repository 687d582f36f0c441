#include "api/mapping/json_body.h"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/value_stack.hpp>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace txv::api {
namespace {

namespace json = boost::json;

constexpr std::size_t kMaxDepth = 64;
// Objects up to this many keys are checked by linear comparison (no
// allocation); larger ones through a hash set built on demand.
constexpr std::size_t kLinearKeys = 16;

// A basic_parser handler that forwards every event to a value_stack (as
// json::parser does) and tracks the keys of each open object.
class StrictHandler {
 public:
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);

  json::value_stack stack;
  bool duplicate = false;

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_array_begin(json::error_code&) { return true; }
  bool on_array_end(std::size_t n, json::error_code&) {
    stack.push_array(n);
    return true;
  }
  bool on_object_begin(json::error_code&) {
    levels_.push_back(keys_.size());
    return true;
  }
  bool on_object_end(std::size_t n, json::error_code&) {
    large_.erase(levels_.back());
    keys_.resize(levels_.back());
    levels_.pop_back();
    stack.push_object(n);
    return true;
  }
  bool on_string_part(json::string_view s, std::size_t, json::error_code&) {
    stack.push_chars(s);
    return true;
  }
  bool on_string(json::string_view s, std::size_t, json::error_code&) {
    stack.push_string(s);
    return true;
  }
  bool on_key_part(json::string_view s, std::size_t, json::error_code&) {
    key_.append(s.data(), s.size());
    return true;
  }
  bool on_key(json::string_view s, std::size_t, json::error_code& ec) {
    key_.append(s.data(), s.size());
    const std::size_t first = levels_.back();
    if (!unique(first)) {
      duplicate = true;
      ec = json::error::syntax;
      return false;
    }
    stack.push_key(key_);
    keys_.push_back(std::move(key_));
    key_.clear();
    return true;
  }
  bool on_number_part(json::string_view, json::error_code&) { return true; }
  bool on_int64(std::int64_t i, json::string_view, json::error_code&) {
    stack.push_int64(i);
    return true;
  }
  bool on_uint64(std::uint64_t u, json::string_view, json::error_code&) {
    stack.push_uint64(u);
    return true;
  }
  bool on_double(double d, json::string_view, json::error_code&) {
    stack.push_double(d);
    return true;
  }
  bool on_bool(bool b, json::error_code&) {
    stack.push_bool(b);
    return true;
  }
  bool on_null(json::error_code&) {
    stack.push_null();
    return true;
  }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }

 private:
  // Whether key_ is new in the object whose keys start at keys_[first]. A
  // linear scan for small objects; past kLinearKeys a hash set, so that 64 KiB
  // of short keys cannot cost ~10^8 comparisons.
  bool unique(std::size_t first) {
    const std::size_t count = keys_.size() - first;
    if (count < kLinearKeys) {
      for (std::size_t i = first; i < keys_.size(); ++i) {
        if (keys_[i] == key_) return false;
      }
      return true;
    }
    auto& seen = large_[first];
    if (seen.empty()) seen.insert(keys_.begin() + static_cast<std::ptrdiff_t>(first), keys_.end());
    return seen.insert(key_).second;
  }

  std::string key_;
  std::vector<std::string> keys_;    // keys of every open object, innermost last
  std::vector<std::size_t> levels_;  // index in keys_ where each open object's keys start
  std::unordered_map<std::size_t, std::unordered_set<std::string>> large_;  // by level start, for big objects
};

}  // namespace

Result<json::value> parse_json_strict(std::string_view text) {
  json::parse_options options;
  options.max_depth = kMaxDepth;
  json::basic_parser<StrictHandler> parser(options);
  parser.handler().stack.reset();
  json::error_code ec;
  std::size_t used = parser.write_some(false, text.data(), text.size(), ec);
  if (!ec && used != text.size()) ec = json::error::extra_data;
  if (ec || text.empty()) {
    if (parser.handler().duplicate) {
      return make_error("malformed_json", "the request body has an object with a repeated key");
    }
    return make_error("malformed_json", "the request body is not valid JSON");
  }
  return parser.handler().stack.release();
}

}  // namespace txv::api
