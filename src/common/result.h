// Errors as values across module edges.
//
// An Error carries a typed code (ErrorCode; its snake_case spelling is the
// contract's, API contract section 2), a human message and optional per-field
// details. The HTTP status of each code is decided in one place
// (api/responses.cc). Result<T> is either a T or an Error. Neither type throws;
// accessing the wrong alternative is a programming error checked by assert().
//
// make_error("not_found", ...) names a code by its spelling, checked at
// compile time: a misspelt code does not compile (it used to be a silent 500).
#pragma once

#include <array>
#include <cassert>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace txv {

enum class ErrorCode {
  kValidationFailed,
  kMalformedJson,
  kMalformedRequest,
  kUnauthorized,
  kForbidden,
  kNotFound,
  kMethodNotAllowed,
  kIdempotencyConflict,
  kNotReviewable,
  kConflict,
  kVersionMismatch,
  kPreconditionRequired,
  kPayloadTooLarge,
  kUnsupportedMediaType,
  kInvalidExpression,
  kRateLimited,
  kUnavailable,
  kInternal,
  kInvalidConfiguration,  // start-up only (exit 2)
  kUsage,                 // command line only (exit 2)
};

inline constexpr std::array<std::string_view, 20> kErrorCodeNames = {"validation_failed",
                                                                     "malformed_json",
                                                                     "malformed_request",
                                                                     "unauthorized",
                                                                     "forbidden",
                                                                     "not_found",
                                                                     "method_not_allowed",
                                                                     "idempotency_conflict",
                                                                     "not_reviewable",
                                                                     "conflict",
                                                                     "version_mismatch",
                                                                     "precondition_required",
                                                                     "payload_too_large",
                                                                     "unsupported_media_type",
                                                                     "invalid_expression",
                                                                     "rate_limited",
                                                                     "unavailable",
                                                                     "internal",
                                                                     "invalid_configuration",
                                                                     "usage"};

constexpr std::string_view to_string(ErrorCode c) { return kErrorCodeNames[static_cast<std::size_t>(c)]; }
inline std::ostream& operator<<(std::ostream& os, ErrorCode c) { return os << to_string(c); }

namespace detail {
// Not constexpr: reaching it in a constant expression is the compile error a
// misspelt code gets.
inline ErrorCode unknown_error_code() { return ErrorCode::kInternal; }
}  // namespace detail

// A code named by its spelling at compile time, or an ErrorCode value.
class ErrorCodeName {
 public:
  consteval ErrorCodeName(const char* spelling) : code_(lookup(spelling)) {}  // NOLINT(google-explicit-constructor)
  constexpr ErrorCodeName(ErrorCode code) : code_(code) {}                    // NOLINT(google-explicit-constructor)
  constexpr ErrorCode code() const { return code_; }

 private:
  static consteval ErrorCode lookup(std::string_view spelling) {
    for (std::size_t i = 0; i < kErrorCodeNames.size(); ++i) {
      if (kErrorCodeNames[i] == spelling) return static_cast<ErrorCode>(i);
    }
    return detail::unknown_error_code();
  }
  ErrorCode code_;
};

// Comparing a code with its spelling (tests, and code that reads a code).
inline bool operator==(ErrorCode c, std::string_view spelling) { return to_string(c) == spelling; }

struct FieldIssue {
  std::string field;  // dotted path, e.g. "card.number" or "transactions[3].amount"
  std::string issue;  // snake_case, e.g. "required", "invalid_format"
  bool operator==(const FieldIssue&) const = default;
};

struct Error {
  ErrorCode code = ErrorCode::kInternal;
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

inline Error make_error(ErrorCodeName code, std::string message, std::vector<FieldIssue> details = {}) {
  return Error{code.code(), std::move(message), std::move(details)};
}

}  // namespace txv
