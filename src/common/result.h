// Errors as values across module edges.
//
// An Error carries a contract error code (snake_case, see the API contract
// section 2), a human message and optional per-field details. Result<T> is
// either a T or an Error. Neither type throws; accessing the wrong alternative
// is a programming error checked by assert().
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace txv {

struct FieldIssue {
  std::string field;  // dotted path, e.g. "card.number" or "transactions[3].amount"
  std::string issue;  // snake_case, e.g. "required", "invalid_format"
  bool operator==(const FieldIssue&) const = default;
};

struct Error {
  std::string code;     // contract code: "validation_failed", "not_found", ...
  std::string message;  // human text; never contains a card number
  std::vector<FieldIssue> details;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const {
    assert(!ok());
    return std::get<1>(v_);
  }
  Error&& take_error() && {
    assert(!ok());
    return std::get<1>(std::move(v_));
  }

 private:
  std::variant<T, Error> v_;
};

struct Ok {};
using Status = Result<Ok>;

inline Error make_error(std::string code, std::string message, std::vector<FieldIssue> details = {}) {
  return Error{std::move(code), std::move(message), std::move(details)};
}

}  // namespace txv
