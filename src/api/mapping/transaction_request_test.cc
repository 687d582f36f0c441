#include "api/mapping/transaction_request.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "api/mapping/error_json.h"
#include "domain/time.h"

namespace txv::api {
namespace {

namespace json = boost::json;

using Issues = std::set<std::pair<std::string, std::string>>;  // {field, issue}

const std::set<std::string> kCatalogue = {
    "required",        "invalid_type",  "invalid_format", "invalid_value",         "out_of_range",
    "too_short",       "too_long",      "too_many",       "invalid_key",           "unknown_currency",
    "unknown_country", "unknown_field", "conflict",       "looks_like_card_number"};

constexpr const char* kPan = "4242424242424242";

// The contract's example request (section 3).
constexpr const char* kBase = R"({
  "transaction_id": "ord-1001",
  "merchant_id": "m-42",
  "type": "purchase",
  "amount": 12550,
  "currency": "USD",
  "card": {"number": "4242424242424242", "expiry_month": 12, "expiry_year": 2030},
  "customer": {"id": "c-7", "email": "a@example.com", "ip": "203.0.113.7", "country": "US", "device_id": "d-1"},
  "merchant": {"mcc": "5411", "country": "US"},
  "occurred_at": "2026-11-24T10:00:00Z",
  "metadata": {"channel": "web"}
})";

json::value parse_or_die(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  EXPECT_FALSE(ec) << "test JSON does not parse: " << text;
  return v;
}

// kBase with the top-level members of `patch` set (replacing) and `remove` dropped.
std::string edit(std::string_view patch, std::initializer_list<std::string_view> remove = {}) {
  json::object body = parse_or_die(kBase).as_object();
  const json::value members = parse_or_die(patch);
  for (const auto& kv : members.as_object()) body[kv.key()] = kv.value();
  for (auto key : remove) body.erase(key);
  return json::serialize(body);
}

std::string without(std::initializer_list<std::string_view> remove) { return edit("{}", remove); }

std::string quoted(const std::string& s) { return "\"" + s + "\""; }
std::string chars(std::size_t n, char c = 'x') { return std::string(n, c); }

// A metadata object of n entries k0..k(n-1).
std::string metadata_of(int n) {
  std::string out = "{";
  for (int i = 0; i < n; ++i) out += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":\"v\"";
  return out + "}";
}

struct Case {
  std::string name;
  std::string body;
  Issues issues;  // empty: valid
  std::string prefix = "";
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

std::vector<Case> cases() {
  const std::string k41 = chars(41, 'k');
  return {
      // ---- valid requests
      {"contract example", kBase, {}},
      {"minimal number card",
       R"({"transaction_id":"t","merchant_id":"m","amount":1,"currency":"EUR",
         "card":{"number":"4242424242424242","expiry_month":1,"expiry_year":2030}})",
       {}},
      {"minimal token card",
       R"({"transaction_id":"t","merchant_id":"m","amount":1,"currency":"EUR",
         "card":{"token":"tok_1"}})",
       {}},
      {"token with bin last4 brand",
       edit(R"({"card":{"token":"tok_1","bin":"424242","last4":"4242","brand":"visa"}})"),
       {}},
      {"token with 8-digit bin", edit(R"({"card":{"token":"tok_1","bin":"42424242"}})"), {}},
      {"token of 128 chars", edit(R"({"card":{"token":)" + quoted(chars(128)) + "}}"), {}},
      {"brand of 32 chars", edit(R"({"card":{"token":"t","brand":)" + quoted(chars(32)) + "}}"), {}},
      {"type authorization", edit(R"({"type":"authorization"})"), {}},
      {"type refund", edit(R"({"type":"refund"})"), {}},
      {"type payout", edit(R"({"type":"payout"})"), {}},
      {"type verification", edit(R"({"type":"verification"})"), {}},
      {"type absent", without({"type"}), {}},
      {"type null", edit(R"({"type":null})"), {}},
      {"verification with amount 0", edit(R"({"type":"verification","amount":0})"), {}},
      {"amount 1", edit(R"({"amount":1})"), {}},
      {"amount 10^15", edit(R"({"amount":1000000000000000})"), {}},
      {"currency lower case", edit(R"({"currency":"usd"})"), {}},
      {"currency mixed case", edit(R"({"currency":"jPy"})"), {}},
      {"currency KWD", edit(R"({"currency":"KWD"})"), {}},
      {"currency CLF", edit(R"({"currency":"CLF"})"), {}},
      {"ipv6", edit(R"({"customer":{"ip":"2001:db8::1"}})"), {}},
      {"ipv6 loopback", edit(R"({"customer":{"ip":"::1"}})"), {}},
      {"ipv4-mapped ipv6", edit(R"({"customer":{"ip":"::ffff:192.0.2.128"}})"), {}},
      {"full ipv6", edit(R"({"customer":{"ip":"2001:0db8:0000:0000:0000:ff00:0042:8329"}})"), {}},
      {"email with plus tag", edit(R"({"customer":{"email":"first.last+tag@sub.example.co.uk"}})"), {}},
      {"email unicode", edit(R"({"customer":{"email":"用户@例子.广告"}})"), {}},
      {"email of 254 chars", edit(R"({"customer":{"email":")" + chars(64) + "@" + chars(189) + "\"}}"), {}},
      {"occurred_at with offset", edit(R"({"occurred_at":"2026-11-24T12:00:00+02:00"})"), {}},
      {"occurred_at with fraction", edit(R"({"occurred_at":"2026-11-24T10:00:00.123456Z"})"), {}},
      {"occurred_at absent", without({"occurred_at"}), {}},
      {"metadata of 20 entries", edit(R"({"metadata":)" + metadata_of(20) + "}"), {}},
      {"metadata key 40 value 500",
       edit(R"({"metadata":{)" + quoted(chars(40, 'k')) + ":" + quoted(chars(500)) + "}}"),
       {}},
      {"metadata value 500 code points",
       edit(R"({"metadata":{"k":")" +
            [] {
              std::string s;
              for (int i = 0; i < 500; ++i) s += "é";
              return s;
            }() +
            "\"}}"),
       {}},
      {"metadata empty", edit(R"({"metadata":{}})"), {}},
      {"metadata 16 digits failing Luhn", edit(R"({"metadata":{"order":"4111111111111112"}})"), {}},
      {"metadata 12 digits", edit(R"({"metadata":{"order":"411111111111"}})"), {}},
      {"transaction_id passing Luhn is the client's own", edit(R"({"transaction_id":"4111111111111111"})"), {}},
      {"metadata any key names", edit(R"({"metadata":{"a.b":"1","Ünï":"2","card":"3","amount":"x"}})"), {}},
      {"customer and merchant empty", edit(R"({"customer":{},"merchant":{}})"), {}},
      {"optional objects null", edit(R"({"customer":null,"merchant":null,"metadata":null,"occurred_at":null})"), {}},
      {"optional sub-fields null", edit(R"({"customer":{"id":null,"email":null},"merchant":{"mcc":null}})"), {}},
      {"ids of 64 chars from the whole charset",
       edit(R"({"transaction_id":")" + chars(51, 'a') + "AZaz09._:-" + "xyz" + R"(","merchant_id":"M.1_2:3-4"})"),
       {}},
      {"number of 12 digits", edit(R"({"card":{"number":"500000000009","expiry_month":1,"expiry_year":2030}})"), {}},
      {"number of 19 digits",
       edit(R"({"card":{"number":"4000000000000000006","expiry_month":1,"expiry_year":2030}})"),
       {}},
      {"Luhn failure is a decision, not a validation error",
       edit(R"({"card":{"number":"4242424242424241","expiry_month":1,"expiry_year":2030}})"),
       {}},
      {"expired card is a decision, not a validation error",
       edit(R"({"card":{"number":"4242424242424242","expiry_month":1,"expiry_year":2001}})"),
       {}},
      {"unknown brand range is a decision",
       edit(R"({"card":{"number":"9000000000000001","expiry_month":1,"expiry_year":2030}})"),
       {}},

      // ---- the body itself
      {"body is an array", "[]", {{"body", "invalid_type"}}},
      {"body is a string", R"("x")", {{"body", "invalid_type"}}},
      {"body is null", "null", {{"body", "invalid_type"}}},
      {"body is a number", "42", {{"body", "invalid_type"}}},
      {"empty object: every required field",
       "{}",
       {{"transaction_id", "required"},
        {"merchant_id", "required"},
        {"amount", "required"},
        {"currency", "required"},
        {"card", "required"}}},

      // ---- transaction_id / merchant_id
      {"transaction_id missing", without({"transaction_id"}), {{"transaction_id", "required"}}},
      {"transaction_id null", edit(R"({"transaction_id":null})"), {{"transaction_id", "required"}}},
      {"transaction_id empty", edit(R"({"transaction_id":""})"), {{"transaction_id", "too_short"}}},
      {"transaction_id 65 chars",
       edit(R"({"transaction_id":)" + quoted(chars(65)) + "}"),
       {{"transaction_id", "too_long"}}},
      {"transaction_id with space", edit(R"({"transaction_id":"ord 1"})"), {{"transaction_id", "invalid_format"}}},
      {"transaction_id with slash", edit(R"({"transaction_id":"ord/1"})"), {{"transaction_id", "invalid_format"}}},
      {"transaction_id non-ascii", edit(R"({"transaction_id":"ördér"})"), {{"transaction_id", "invalid_format"}}},
      {"transaction_id integer", edit(R"({"transaction_id":1001})"), {{"transaction_id", "invalid_type"}}},
      {"merchant_id missing", without({"merchant_id"}), {{"merchant_id", "required"}}},
      {"merchant_id with at sign", edit(R"({"merchant_id":"m@42"})"), {{"merchant_id", "invalid_format"}}},
      {"merchant_id boolean", edit(R"({"merchant_id":true})"), {{"merchant_id", "invalid_type"}}},
      {"merchant_id 65 chars", edit(R"({"merchant_id":)" + quoted(chars(65)) + "}"), {{"merchant_id", "too_long"}}},

      // ---- type
      {"type upper case", edit(R"({"type":"PURCHASE"})"), {{"type", "invalid_value"}}},
      {"type unknown", edit(R"({"type":"sale"})"), {{"type", "invalid_value"}}},
      {"type empty", edit(R"({"type":""})"), {{"type", "invalid_value"}}},
      {"type integer", edit(R"({"type":1})"), {{"type", "invalid_type"}}},

      // ---- amount
      {"amount missing", without({"amount"}), {{"amount", "required"}}},
      {"amount null", edit(R"({"amount":null})"), {{"amount", "required"}}},
      {"amount 0 purchase", edit(R"({"amount":0})"), {{"amount", "out_of_range"}}},
      {"amount 0 refund", edit(R"({"type":"refund","amount":0})"), {{"amount", "out_of_range"}}},
      {"amount 0 with unknown type",
       edit(R"({"type":"bogus","amount":0})"),
       {{"type", "invalid_value"}, {"amount", "out_of_range"}}},
      {"amount negative", edit(R"({"amount":-1})"), {{"amount", "out_of_range"}}},
      {"amount negative verification", edit(R"({"type":"verification","amount":-1})"), {{"amount", "out_of_range"}}},
      {"amount 10^15+1", edit(R"({"amount":1000000000000001})"), {{"amount", "out_of_range"}}},
      {"amount int64 min", edit(R"({"amount":-9223372036854775808})"), {{"amount", "out_of_range"}}},
      {"amount uint64 max", edit(R"({"amount":18446744073709551615})"), {{"amount", "out_of_range"}}},
      {"amount float", edit(R"({"amount":12.5})"), {{"amount", "invalid_type"}}},
      {"amount integral float", edit(R"({"amount":12550.0})"), {{"amount", "invalid_type"}}},
      {"amount exponent", edit(R"({"amount":1e3})"), {{"amount", "invalid_type"}}},
      {"amount beyond uint64", edit(R"({"amount":99999999999999999999})"), {{"amount", "out_of_range"}}},
      {"amount string", edit(R"({"amount":"12550"})"), {{"amount", "invalid_type"}}},
      {"amount boolean", edit(R"({"amount":true})"), {{"amount", "invalid_type"}}},
      {"amount object", edit(R"({"amount":{"value":1}})"), {{"amount", "invalid_type"}}},

      // ---- currency
      {"currency missing", without({"currency"}), {{"currency", "required"}}},
      {"currency unknown", edit(R"({"currency":"XYZ"})"), {{"currency", "unknown_currency"}}},
      {"currency two letters", edit(R"({"currency":"US"})"), {{"currency", "unknown_currency"}}},
      {"currency empty", edit(R"({"currency":""})"), {{"currency", "unknown_currency"}}},
      {"currency with space", edit(R"({"currency":"usd "})"), {{"currency", "unknown_currency"}}},
      {"currency XXX (no currency)", edit(R"({"currency":"XXX"})"), {{"currency", "unknown_currency"}}},
      {"currency withdrawn HRK", edit(R"({"currency":"HRK"})"), {{"currency", "unknown_currency"}}},
      {"currency numeric", edit(R"({"currency":840})"), {{"currency", "invalid_type"}}},

      // ---- card
      {"card missing", without({"card"}), {{"card", "required"}}},
      {"card string", edit(R"({"card":"4242424242424242"})"), {{"card", "invalid_type"}}},
      {"card array", edit(R"({"card":[]})"), {{"card", "invalid_type"}}},
      {"card empty: neither number nor token", edit(R"({"card":{}})"), {{"card", "conflict"}}},
      {"card both number and token",
       edit(R"({"card":{"number":"4242424242424242","expiry_month":12,"expiry_year":2030,"token":"tok"}})"),
       {{"card", "conflict"}}},
      {"number without expiry",
       edit(R"({"card":{"number":"4242424242424242"}})"),
       {{"card.expiry_month", "required"}, {"card.expiry_year", "required"}}},
      {"number without expiry_year",
       edit(R"({"card":{"number":"4242424242424242","expiry_month":12}})"),
       {{"card.expiry_year", "required"}}},
      {"number with bin last4 brand",
       edit(R"({"card":{"number":"4242424242424242","expiry_month":12,"expiry_year":2030,
                 "bin":"424242","last4":"4242","brand":"visa"}})"),
       {{"card.bin", "conflict"}, {"card.last4", "conflict"}, {"card.brand", "conflict"}}},
      {"token with expiry",
       edit(R"({"card":{"token":"tok","expiry_month":12,"expiry_year":2030}})"),
       {{"card.expiry_month", "conflict"}, {"card.expiry_year", "conflict"}}},
      {"number with spaces",
       edit(R"({"card":{"number":"4242 4242 4242 4242","expiry_month":12,"expiry_year":2030}})"),
       {{"card.number", "invalid_format"}}},
      {"number with dashes",
       edit(R"({"card":{"number":"4242-4242-4242-4242","expiry_month":12,"expiry_year":2030}})"),
       {{"card.number", "invalid_format"}}},
      {"number with full-width digits",
       edit(R"({"card":{"number":"４２４２４２４２４２４２４２４２","expiry_month":12,"expiry_year":2030}})"),
       {{"card.number", "invalid_format"}}},
      {"number of 11 digits",
       edit(R"({"card":{"number":"42424242424","expiry_month":12,"expiry_year":2030}})"),
       {{"card.number", "too_short"}}},
      {"number of 20 digits",
       edit(R"({"card":{"number":"42424242424242424242","expiry_month":12,"expiry_year":2030}})"),
       {{"card.number", "too_long"}}},
      {"number empty",
       edit(R"({"card":{"number":"","expiry_month":12,"expiry_year":2030}})"),
       {{"card.number", "too_short"}}},
      {"number as integer",
       edit(R"({"card":{"number":4242424242424242,"expiry_month":12,"expiry_year":2030}})"),
       {{"card.number", "invalid_type"}}},
      {"expiry_month 0",
       edit(R"({"card":{"number":"4242424242424242","expiry_month":0,"expiry_year":2030}})"),
       {{"card.expiry_month", "out_of_range"}}},
      {"expiry_month 13",
       edit(R"({"card":{"number":"4242424242424242","expiry_month":13,"expiry_year":2030}})"),
       {{"card.expiry_month", "out_of_range"}}},
      {"expiry_month string",
       edit(R"({"card":{"number":"4242424242424242","expiry_month":"12","expiry_year":2030}})"),
       {{"card.expiry_month", "invalid_type"}}},
      {"expiry_month float",
       edit(R"({"card":{"number":"4242424242424242","expiry_month":12.0,"expiry_year":2030}})"),
       {{"card.expiry_month", "invalid_type"}}},
      {"expiry_year two digits",
       edit(R"({"card":{"number":"4242424242424242","expiry_month":12,"expiry_year":30}})"),
       {{"card.expiry_year", "out_of_range"}}},
      {"expiry_year five digits",
       edit(R"({"card":{"number":"4242424242424242","expiry_month":12,"expiry_year":10000}})"),
       {{"card.expiry_year", "out_of_range"}}},
      {"expiry_year string",
       edit(R"({"card":{"number":"4242424242424242","expiry_month":12,"expiry_year":"2030"}})"),
       {{"card.expiry_year", "invalid_type"}}},
      {"token empty", edit(R"({"card":{"token":""}})"), {{"card.token", "too_short"}}},
      {"token 129 chars", edit(R"({"card":{"token":)" + quoted(chars(129)) + "}}"), {{"card.token", "too_long"}}},
      {"token integer", edit(R"({"card":{"token":7}})"), {{"card.token", "invalid_type"}}},
      {"bin 5 digits", edit(R"({"card":{"token":"t","bin":"42424"}})"), {{"card.bin", "invalid_format"}}},
      {"bin 9 digits", edit(R"({"card":{"token":"t","bin":"424242424"}})"), {{"card.bin", "invalid_format"}}},
      {"bin with letter", edit(R"({"card":{"token":"t","bin":"42424a"}})"), {{"card.bin", "invalid_format"}}},
      {"bin integer", edit(R"({"card":{"token":"t","bin":424242}})"), {{"card.bin", "invalid_type"}}},
      {"last4 3 digits", edit(R"({"card":{"token":"t","last4":"424"}})"), {{"card.last4", "invalid_format"}}},
      {"last4 with letter", edit(R"({"card":{"token":"t","last4":"42a2"}})"), {{"card.last4", "invalid_format"}}},
      {"brand empty", edit(R"({"card":{"token":"t","brand":""}})"), {{"card.brand", "too_short"}}},
      {"brand 33 chars",
       edit(R"({"card":{"token":"t","brand":)" + quoted(chars(33)) + "}}"),
       {{"card.brand", "too_long"}}},
      {"brand integer", edit(R"({"card":{"token":"t","brand":5}})"), {{"card.brand", "invalid_type"}}},

      // ---- customer
      {"customer string", edit(R"({"customer":"c-7"})"), {{"customer", "invalid_type"}}},
      {"customer.id empty", edit(R"({"customer":{"id":""}})"), {{"customer.id", "too_short"}}},
      {"customer.id 129 chars",
       edit(R"({"customer":{"id":)" + quoted(chars(129)) + "}}"),
       {{"customer.id", "too_long"}}},
      {"customer.device_id 129 chars",
       edit(R"({"customer":{"device_id":)" + quoted(chars(129)) + "}}"),
       {{"customer.device_id", "too_long"}}},
      {"customer.device_id integer", edit(R"({"customer":{"device_id":1}})"), {{"customer.device_id", "invalid_type"}}},
      {"email without at", edit(R"({"customer":{"email":"a.example.com"}})"), {{"customer.email", "invalid_format"}}},
      {"email with two at",
       edit(R"({"customer":{"email":"a@b@example.com"}})"),
       {{"customer.email", "invalid_format"}}},
      {"email empty local part",
       edit(R"({"customer":{"email":"@example.com"}})"),
       {{"customer.email", "invalid_format"}}},
      {"email empty domain", edit(R"({"customer":{"email":"a@"}})"), {{"customer.email", "invalid_format"}}},
      {"email with space", edit(R"({"customer":{"email":"a b@example.com"}})"), {{"customer.email", "invalid_format"}}},
      {"email with newline",
       edit(R"({"customer":{"email":"a@example.com\n"}})"),
       {{"customer.email", "invalid_format"}}},
      {"email empty", edit(R"({"customer":{"email":""}})"), {{"customer.email", "invalid_format"}}},
      {"email 255 chars",
       edit(R"({"customer":{"email":")" + chars(64) + "@" + chars(190) + "\"}}"),
       {{"customer.email", "too_long"}}},
      {"email integer", edit(R"({"customer":{"email":1}})"), {{"customer.email", "invalid_type"}}},
      {"ip out of range", edit(R"({"customer":{"ip":"256.1.1.1"}})"), {{"customer.ip", "invalid_format"}}},
      {"ip leading zero", edit(R"({"customer":{"ip":"01.2.3.4"}})"), {{"customer.ip", "invalid_format"}}},
      {"ipv6 bracketed", edit(R"({"customer":{"ip":"[::1]"}})"), {{"customer.ip", "invalid_format"}}},
      {"ipv6 with zone", edit(R"({"customer":{"ip":"fe80::1%eth0"}})"), {{"customer.ip", "invalid_format"}}},
      {"ipv6 two double colons", edit(R"({"customer":{"ip":"2001::db8::1"}})"), {{"customer.ip", "invalid_format"}}},
      {"ip with port", edit(R"({"customer":{"ip":"203.0.113.7:443"}})"), {{"customer.ip", "invalid_format"}}},
      {"ip host name", edit(R"({"customer":{"ip":"localhost"}})"), {{"customer.ip", "invalid_format"}}},
      {"ip integer", edit(R"({"customer":{"ip":3405803783}})"), {{"customer.ip", "invalid_type"}}},
      {"customer country lower case",
       edit(R"({"customer":{"country":"us"}})"),
       {{"customer.country", "unknown_country"}}},
      {"customer country alpha-3",
       edit(R"({"customer":{"country":"USA"}})"),
       {{"customer.country", "unknown_country"}}},
      {"customer country user-assigned",
       edit(R"({"customer":{"country":"XK"}})"),
       {{"customer.country", "unknown_country"}}},
      {"customer country numeric", edit(R"({"customer":{"country":840}})"), {{"customer.country", "invalid_type"}}},

      // ---- merchant
      {"merchant string", edit(R"({"merchant":"m"})"), {{"merchant", "invalid_type"}}},
      {"mcc 3 digits", edit(R"({"merchant":{"mcc":"541"}})"), {{"merchant.mcc", "invalid_format"}}},
      {"mcc 5 digits", edit(R"({"merchant":{"mcc":"54111"}})"), {{"merchant.mcc", "invalid_format"}}},
      {"mcc with letter", edit(R"({"merchant":{"mcc":"54a1"}})"), {{"merchant.mcc", "invalid_format"}}},
      {"mcc integer", edit(R"({"merchant":{"mcc":5411}})"), {{"merchant.mcc", "invalid_type"}}},
      {"merchant country unknown", edit(R"({"merchant":{"country":"ZZ"}})"), {{"merchant.country", "unknown_country"}}},

      // ---- occurred_at
      {"occurred_at date only", edit(R"({"occurred_at":"2026-11-24"})"), {{"occurred_at", "invalid_format"}}},
      {"occurred_at without offset",
       edit(R"({"occurred_at":"2026-11-24T10:00:00"})"),
       {{"occurred_at", "invalid_format"}}},
      {"occurred_at with space",
       edit(R"({"occurred_at":"2026-11-24 10:00:00Z"})"),
       {{"occurred_at", "invalid_format"}}},
      {"occurred_at month 13", edit(R"({"occurred_at":"2026-13-01T00:00:00Z"})"), {{"occurred_at", "invalid_format"}}},
      {"occurred_at February 30",
       edit(R"({"occurred_at":"2026-02-30T00:00:00Z"})"),
       {{"occurred_at", "invalid_format"}}},
      {"occurred_at epoch seconds", edit(R"({"occurred_at":1700000000})"), {{"occurred_at", "invalid_type"}}},

      // ---- metadata
      {"metadata of 21 entries", edit(R"({"metadata":)" + metadata_of(21) + "}"), {{"metadata", "too_many"}}},
      {"metadata key 41 chars", edit(R"({"metadata":{)" + quoted(k41) + R"(:"v"}})"), {{"metadata", "invalid_key"}}},
      {"metadata empty key", edit(R"({"metadata":{"":"v"}})"), {{"metadata", "invalid_key"}}},
      {"metadata value 501 chars",
       edit(R"({"metadata":{"note":)" + quoted(chars(501)) + "}}"),
       {{"metadata.note", "too_long"}}},
      {"metadata value integer", edit(R"({"metadata":{"n":1}})"), {{"metadata.n", "invalid_type"}}},
      {"metadata value null", edit(R"({"metadata":{"n":null}})"), {{"metadata.n", "invalid_type"}}},
      {"metadata value holding a card number",
       edit(R"({"metadata":{"note":"card 4111 1111 1111 1111 please"}})"),
       {{"metadata.note", "looks_like_card_number"}}},
      {"metadata value holding a dashed card number",
       edit(R"({"metadata":{"n":"5555-5555-5555-4444"}})"),
       {{"metadata.n", "looks_like_card_number"}}},
      {"metadata key holding a card number",
       edit(R"({"metadata":{"4111111111111111":"x"}})"),
       {{"metadata", "looks_like_card_number"}}},
      {"metadata value object", edit(R"({"metadata":{"n":{"x":"y"}}})"), {{"metadata.n", "invalid_type"}}},
      {"metadata value boolean", edit(R"({"metadata":{"n":true}})"), {{"metadata.n", "invalid_type"}}},
      {"metadata array", edit(R"({"metadata":["web"]})"), {{"metadata", "invalid_type"}}},
      {"metadata string", edit(R"({"metadata":"web"})"), {{"metadata", "invalid_type"}}},
      {"metadata every limit at once",
       edit(R"({"metadata":)" +
            [&] {
              std::string m = metadata_of(21);
              m.pop_back();
              return m + "," + quoted(k41) + R"(:"v","bad":1,"long":)" + quoted(chars(501)) + "}";
            }() +
            "}"),
       {{"metadata", "too_many"},
        {"metadata", "invalid_key"},
        {"metadata.bad", "invalid_type"},
        {"metadata.long", "too_long"}}},

      // ---- unknown fields at every level
      {"unknown top-level field", edit(R"({"foo":1})"), {{"foo", "unknown_field"}}},
      {"top-level field names are case-sensitive", edit(R"({"Amount":1})"), {{"Amount", "unknown_field"}}},
      {"unknown null field", edit(R"({"extra":null})"), {{"extra", "unknown_field"}}},
      {"unknown card field",
       edit(R"({"card":{"number":"4242424242424242","expiry_month":12,"expiry_year":2030,
                                             "cvv":"123"}})"),
       {{"card.cvv", "unknown_field"}}},
      {"unknown customer field", edit(R"({"customer":{"name":"Ann"}})"), {{"customer.name", "unknown_field"}}},
      {"unknown merchant field", edit(R"({"merchant":{"name":"Shop"}})"), {{"merchant.name", "unknown_field"}}},
      {"unknown fields at every level at once",
       edit(R"({"a":1,"b":2,"card":{"token":"t","x":1},"customer":{"y":1},"merchant":{"z":1},
                "metadata":{"free":"form"}})"),
       {{"a", "unknown_field"},
        {"b", "unknown_field"},
        {"card.x", "unknown_field"},
        {"customer.y", "unknown_field"},
        {"merchant.z", "unknown_field"}}},
      {"card number used as a key is redacted from the path",
       edit(R"({"card":{"token":"t","4242424242424242":"x"}})"),
       {{"card.****************", "unknown_field"}}},

      // ---- many violations at once
      {"several violations reported together",
       R"({"transaction_id":"bad id","merchant_id":"","type":"sale","amount":-5,"currency":"XYZ",
           "card":{"number":"4242424242424242","token":"t","expiry_month":13},
           "customer":{"email":"nope","ip":"999.1.1.1","country":"us"},
           "merchant":{"mcc":"12","country":"usa"},
           "occurred_at":"yesterday","metadata":{"k":1},"surprise":true})",
       {{"transaction_id", "invalid_format"},
        {"merchant_id", "too_short"},
        {"type", "invalid_value"},
        {"amount", "out_of_range"},
        {"currency", "unknown_currency"},
        {"card", "conflict"},
        {"card.expiry_month", "out_of_range"},
        {"customer.email", "invalid_format"},
        {"customer.ip", "invalid_format"},
        {"customer.country", "unknown_country"},
        {"merchant.mcc", "invalid_format"},
        {"merchant.country", "unknown_country"},
        {"occurred_at", "invalid_format"},
        {"metadata.k", "invalid_type"},
        {"surprise", "unknown_field"}}},
      {"required and malformed together",
       R"({"amount":"1","card":{"number":"42"}})",
       {{"transaction_id", "required"},
        {"merchant_id", "required"},
        {"amount", "invalid_type"},
        {"currency", "required"},
        {"card.number", "too_short"},
        {"card.expiry_month", "required"},
        {"card.expiry_year", "required"}}},

      // ---- batch item prefixes
      {"prefix",
       edit(R"({"amount":0,"card":{"token":""},"x":1})"),
       {{"transactions[3].amount", "out_of_range"},
        {"transactions[3].card.token", "too_short"},
        {"transactions[3].x", "unknown_field"}},
       "transactions[3]"},
      {"prefix with trailing dot",
       without({"currency"}),
       {{"transactions[0].currency", "required"}},
       "transactions[0]."},
      {"prefix on a non-object item", "7", {{"transactions[7]", "invalid_type"}}, "transactions[7]"},
      {"prefix on a valid item", kBase, {}, "transactions[1]"},
  };
}

class RequestValidationTable : public ::testing::TestWithParam<Case> {};

TEST_P(RequestValidationTable, ReportsExactlyTheExpectedIssues) {
  const Case& c = GetParam();
  const json::value body = parse_or_die(c.body);
  const auto result = parse_transaction_request(body, c.prefix);
  if (c.issues.empty()) {
    EXPECT_TRUE(result.ok()) << render_error(result.ok() ? Error{} : result.error());
    return;
  }
  ASSERT_FALSE(result.ok());
  const Error& e = result.error();
  EXPECT_EQ(e.code, "validation_failed");
  EXPECT_FALSE(e.message.empty());
  Issues got;
  for (const auto& d : e.details) {
    EXPECT_TRUE(kCatalogue.count(d.issue)) << "issue outside the catalogue: " << d.issue;
    EXPECT_TRUE(got.emplace(d.field, d.issue).second) << "duplicate detail " << d.field << "/" << d.issue;
  }
  EXPECT_EQ(got, c.issues) << render_error(e);
}

INSTANTIATE_TEST_SUITE_P(Cases, RequestValidationTable, ::testing::ValuesIn(cases()));

TEST(RequestValidationTable, HasAtLeastAHundredCases) { EXPECT_GE(cases().size(), 100u); }

TEST(ParseTransactionRequest, MapsEveryField) {
  const auto r = parse_transaction_request(parse_or_die(kBase));
  ASSERT_TRUE(r.ok());
  const domain::TransactionRequest& t = *r;
  EXPECT_EQ(t.transaction_id, "ord-1001");
  EXPECT_EQ(t.merchant_id, "m-42");
  EXPECT_EQ(t.type, domain::TransactionType::kPurchase);
  EXPECT_EQ(t.amount, 12550);
  EXPECT_EQ(t.currency, "USD");
  EXPECT_EQ(t.card.number, kPan);
  EXPECT_EQ(t.card.expiry_month, 12);
  EXPECT_EQ(t.card.expiry_year, 2030);
  EXPECT_FALSE(t.card.token || t.card.bin || t.card.last4 || t.card.brand);
  EXPECT_TRUE(t.has_customer);
  EXPECT_EQ(t.customer, (domain::Customer{"c-7", "a@example.com", "203.0.113.7", "US", "d-1"}));
  EXPECT_TRUE(t.has_merchant);
  EXPECT_EQ(t.merchant, (domain::Merchant{"5411", "US"}));
  EXPECT_EQ(t.occurred_at, domain::parse_rfc3339("2026-11-24T10:00:00Z"));
  EXPECT_EQ(t.metadata, (domain::Metadata{{"channel", "web"}}));
}

TEST(ParseTransactionRequest, DefaultsAndNormalisation) {
  const auto r = parse_transaction_request(parse_or_die(
      R"({"transaction_id":"t","merchant_id":"m","amount":5,"currency":"jpy","card":{"token":"tok","bin":"42424242",
          "last4":"4242","brand":"Visa"},"occurred_at":"2026-12-01T00:30:00+01:00"})"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->type, domain::TransactionType::kPurchase);
  EXPECT_EQ(r->currency, "JPY");
  EXPECT_FALSE(r->card.number);
  EXPECT_EQ(r->card.token, "tok");
  EXPECT_EQ(r->card.bin, "42424242");
  EXPECT_EQ(r->card.last4, "4242");
  EXPECT_EQ(r->card.brand, "Visa");  // as sent
  EXPECT_FALSE(r->has_customer);
  EXPECT_FALSE(r->has_merchant);
  EXPECT_TRUE(r->metadata.empty());
  EXPECT_EQ(r->occurred_at, domain::parse_rfc3339("2026-11-30T23:30:00Z"));
}

TEST(ParseTransactionRequest, AbsentOccurredAtStaysAbsent) {
  const auto r = parse_transaction_request(parse_or_die(without({"occurred_at"})));
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->occurred_at.has_value());
}

TEST(ParseTransactionRequest, EmptyCustomerAndMerchantAreStillSent) {
  const auto r = parse_transaction_request(parse_or_die(edit(R"({"customer":{},"merchant":{}})")));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->has_customer);
  EXPECT_TRUE(r->has_merchant);
  EXPECT_EQ(r->customer, domain::Customer{});
}

TEST(ParseTransactionRequest, VerificationAmountZero) {
  const auto r = parse_transaction_request(parse_or_die(edit(R"({"type":"verification","amount":0})")));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->type, domain::TransactionType::kVerification);
  EXPECT_EQ(r->amount, 0);
}

// Every body here carries the PAN somewhere near a violation; neither the
// rendered error nor any Error field may contain it.
TEST(ParseTransactionRequest, CardNumberNeverInTheError) {
  const std::string pan = kPan;
  const std::vector<std::string> bodies = {
      edit(R"({"card":{"number":"4242424242424242","token":"t","expiry_month":12,"expiry_year":2030}})"),
      edit(R"({"card":{"number":"4242424242424242"}})"),
      edit(R"({"card":{"number":"4242424242424242x","expiry_month":12,"expiry_year":2030}})"),
      edit(R"({"card":{"number":"42424242424242424242","expiry_month":12,"expiry_year":2030}})"),
      edit(R"({"card":{"number":"4242424242424242","expiry_month":12,"expiry_year":2030,"bin":"424242"}})"),
      edit(R"({"card":{"number":"4242424242424242","expiry_month":99,"expiry_year":2030}})"),
      edit(R"({"card":{"number":4242424242424242,"expiry_month":12,"expiry_year":2030}})"),
      edit(R"({"card":{"token":"t","4242424242424242":"4242424242424242"}})"),
      edit(R"({"4242424242424242":true,"amount":-1})"),
      edit(R"({"metadata":{"4242424242424242":1,"pan":"4242424242424242","x":)" + quoted(chars(501)) + "}}"),
      edit(R"({"transaction_id":"4242424242424242 ","currency":"4242424242424242"})"),
      edit(R"({"customer":{"email":"4242424242424242","ip":"4242424242424242","id":""}})"),
  };
  for (const auto& text : bodies) {
    const auto r = parse_transaction_request(parse_or_die(text), "transactions[0]");
    ASSERT_FALSE(r.ok()) << text;
    const std::string rendered = render_error(r.error());
    EXPECT_EQ(rendered.find(pan), std::string::npos) << rendered;
    EXPECT_EQ(rendered.find("424242424242"), std::string::npos) << rendered;
  }
}

}  // namespace
}  // namespace txv::api
