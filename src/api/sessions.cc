#include "api/sessions.h"

#include "domain/time.h"

namespace txv::api {
namespace {

constexpr std::string_view kTokenPrefix = "txs_";
constexpr int kTokenBytes = 32;  // 43 base64url characters

// The value of cookie `name` in a Cookie header ("a=1; txv_session=…; b=2"),
// or empty.
std::string_view cookie_value(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    std::size_t end = header.find(';');
    std::string_view pair = header.substr(0, end);
    header = end == std::string_view::npos ? std::string_view() : header.substr(end + 1);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    if (pair.size() > name.size() && pair.substr(0, name.size()) == name && pair[name.size()] == '=') {
      return pair.substr(name.size() + 1);
    }
  }
  return {};
}

bool is_safe_method(const std::string& method) { return method == "GET" || method == "HEAD"; }

bool console_role(store::Role role) { return role == store::Role::kAdmin || role == store::Role::kAnalyst; }

}  // namespace

Sessions::Sessions(SessionOptions options, Authenticator& keys, store::SessionStore& store)
    : options_(options), keys_(keys), store_(store) {}

bool Sessions::has_cookie(const http::Request& request) {
  const std::string* header = request.header("cookie");
  return header != nullptr && !cookie_value(*header, kSessionCookie).empty();
}

Task<Result<StartedSession>> Sessions::start(std::string_view api_key) {
  auto principal = co_await keys_.authenticate_secret(api_key);
  if (!principal.ok()) co_return principal.error();
  if (!console_role(principal->role)) {
    co_return make_error("forbidden", "the console is for admin and analyst keys");
  }
  StartedSession started;
  started.token = std::string(kTokenPrefix) + random_base64url(kTokenBytes);
  started.csrf_token = random_base64url(kTokenBytes);
  started.role = principal->role;
  const auto now = domain::now_millis();
  started.expires_at = now + options_.lifetime;
  store::Session session{
      sha256_hex(started.token), sha256_hex(api_key), started.csrf_token, now, started.expires_at, now};
  if (auto s = co_await store_.create_session(session, options_.idle_timeout); !s.ok()) co_return s.error();
  co_return started;
}

Task<Result<Principal>> Sessions::resume(const http::Request& request) {
  const std::string* header = request.header("cookie");
  std::string_view token = header == nullptr ? std::string_view() : cookie_value(*header, kSessionCookie);
  if (!has_secret_shape(token, kTokenPrefix)) co_return make_error("unauthorized", "no session: sign in again");
  const std::string id_hash = sha256_hex(token);
  auto found = co_await store_.find_session(id_hash);
  if (!found.ok()) co_return found.error();
  if (!found->has_value()) co_return make_error("unauthorized", "your session has ended: sign in again");
  const store::Session& session = **found;
  const auto now = domain::now_millis();
  if (now >= session.expires_at || now >= session.last_seen_at + options_.idle_timeout) {
    (void)co_await store_.delete_session(id_hash);
    co_return make_error("unauthorized", "your session has expired: sign in again");
  }
  auto principal = co_await keys_.authenticate_hash(session.key_hash);
  if (!principal.ok()) {
    if (principal.error().code == ErrorCode::kUnauthorized) {
      (void)co_await store_.delete_session(id_hash);
      co_return make_error("unauthorized", "your session has ended: its API key was revoked");
    }
    co_return principal.error();
  }
  if (!is_safe_method(request.method)) {
    const std::string* csrf = request.header("x-csrf-token");
    if (csrf == nullptr || !same_secret(*csrf, session.csrf_token)) {
      co_return make_error("forbidden", "missing or wrong X-CSRF-Token for this session");
    }
  }
  if (now - session.last_seen_at >= options_.touch_every) {
    // Best effort: a failed write only shortens the idle end.
    (void)co_await store_.touch_session(id_hash, now, options_.idle_timeout);
  }
  principal->session = SessionRef{id_hash, session.csrf_token, session.expires_at};
  co_return principal;
}

Task<Status> Sessions::end(const SessionRef& session) { co_return co_await store_.delete_session(session.id_hash); }

std::string Sessions::cookie(const StartedSession& session) const {
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(options_.lifetime).count();
  std::string c = std::string(kSessionCookie) + "=" + session.token + "; Path=/; Max-Age=" + std::to_string(seconds) +
                  "; HttpOnly; SameSite=Strict";
  if (options_.secure_cookie) c += "; Secure";
  return c;
}

std::string Sessions::expired_cookie() const {
  std::string c = std::string(kSessionCookie) + "=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict";
  if (options_.secure_cookie) c += "; Secure";
  return c;
}

}  // namespace txv::api
