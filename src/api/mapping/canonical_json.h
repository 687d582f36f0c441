// Canonical JSON text of a value, for idempotency: two bodies that are the
// same JSON value, whatever their key order, spacing or escaping, give the same
// text and hence the same request digest. The digest is a keyed HMAC of this
// text (decide::Fingerprinter::request_digest), never a plain hash: an unkeyed
// hash of a body holding a card number could be brute-forced back to it.
//
// The form (close to RFC 8785, "JCS", but with keys in UTF-8 byte order):
// - no whitespace anywhere;
// - object members sorted by key, comparing the keys' UTF-8 bytes as unsigned;
// - strings written raw except `"` → \", `\` → \\, \b \f \n \r \t, and the
//   other controls below U+0020 as \u00XX (lower-case hex); everything else,
//   non-ASCII included, as its UTF-8 bytes. So "\u00e9" and "é" are the same;
// - numbers by value: integers (int64/uint64) in plain decimal; doubles in the
//   ECMAScript Number-to-String form (shortest round-trip digits, exponent only
//   below 1e-6 or from 1e21, written "1e+21"/"1e-7"). An integral double is
//   therefore written like the integer: 1.0, 1e0 and 1 are all "1", as JSON
//   itself does not tell them apart. -0.0 is "0". Infinities (Boost.JSON
//   parses 1e400 as one) are "1e999"/"-1e999", NaN "null";
// - true, false, null as themselves.
#pragma once

#include <boost/json/value.hpp>
#include <string>

namespace txv::api {

std::string canonical_json(const boost::json::value& v);

}  // namespace txv::api
