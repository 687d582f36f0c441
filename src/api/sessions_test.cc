// Sessions (sessions.h) against a real SQLite store: the ends of a session,
// the CSRF check, the key's role and revocation. The HTTP side (cookie
// attributes, every route, Redis in replica mode) is tests/e2e/test_sessions.py.
#include "api/sessions.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <vector>

#include "common/async.h"
#include "decide/decide_test_support.h"
#include "domain/time.h"

namespace txv::api {
namespace {

using namespace std::chrono_literals;

class SessionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    AuthenticatorOptions key_options;
    key_options.recheck_after = 0ms;  // every request re-reads the key: revocation is seen at once
    keys_ = std::make_unique<Authenticator>(key_options, db());
    analyst_ = add_key(store::Role::kAnalyst, "ana");
  }
  store::Database& db() { return temp_.db(); }
  NewApiKey add_key(store::Role role, const std::string& name) {
    auto merchant = role == store::Role::kValidator ? std::optional<std::string>("m-1") : std::nullopt;
    auto key = generate_api_key(role, merchant, name, domain::now_millis());
    EXPECT_TRUE(block_on(db().create_api_key(key.record)).ok());
    return key;
  }
  static http::Request request(const std::string& method, const StartedSession& s, const std::string* csrf = nullptr) {
    http::Request r;
    r.method = method;
    r.headers["cookie"] = "theme=dark; " + std::string(kSessionCookie) + "=" + s.token + "; lang=en";
    if (csrf != nullptr) r.headers["x-csrf-token"] = *csrf;
    return r;
  }

  decide::test::TempDatabase temp_;
  std::unique_ptr<Authenticator> keys_;
  NewApiKey analyst_;
};

TEST_F(SessionsTest, ASessionActsWithItsKeysRoleAndName) {
  Sessions sessions({}, *keys_, db());
  auto started = block_on(sessions.start(analyst_.secret));
  ASSERT_TRUE(started.ok()) << started.error().message;
  EXPECT_EQ(started->role, store::Role::kAnalyst);
  auto p = block_on(sessions.resume(request("GET", *started)));
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->key_id, analyst_.record.id);
  EXPECT_EQ(p->name, "ana");
  ASSERT_TRUE(p->session.has_value());
  EXPECT_EQ(p->session->csrf_token, started->csrf_token);
  EXPECT_TRUE(Sessions::has_cookie(request("GET", *started)));
}

TEST_F(SessionsTest, UnsafeMethodsNeedTheCsrfToken) {
  Sessions sessions({}, *keys_, db());
  auto started = block_on(sessions.start(analyst_.secret));
  ASSERT_TRUE(started.ok());
  for (const char* method : {"POST", "PUT", "DELETE", "PATCH"}) {
    auto missing = block_on(sessions.resume(request(method, *started)));
    ASSERT_FALSE(missing.ok()) << method;
    EXPECT_EQ(missing.error().code, ErrorCode::kForbidden);
    std::string wrong = started->csrf_token;
    wrong.back() = wrong.back() == 'A' ? 'B' : 'A';
    auto forged = block_on(sessions.resume(request(method, *started, &wrong)));
    ASSERT_FALSE(forged.ok());
    EXPECT_EQ(forged.error().code, ErrorCode::kForbidden);
    EXPECT_TRUE(block_on(sessions.resume(request(method, *started, &started->csrf_token))).ok()) << method;
  }
  EXPECT_TRUE(block_on(sessions.resume(request("HEAD", *started))).ok());
}

TEST_F(SessionsTest, ValidatorAndUnknownKeysGetNoSession) {
  Sessions sessions({}, *keys_, db());
  auto validator = add_key(store::Role::kValidator, "val");
  auto refused = block_on(sessions.start(validator.secret));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kForbidden);
  auto unknown = block_on(sessions.start("txv_" + std::string(43, 'A')));
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, ErrorCode::kUnauthorized);
}

TEST_F(SessionsTest, ASessionEndsAtItsLifetime) {
  SessionOptions options;
  options.lifetime = 0ms;
  Sessions sessions(options, *keys_, db());
  auto started = block_on(sessions.start(analyst_.secret));
  ASSERT_TRUE(started.ok());
  auto p = block_on(sessions.resume(request("GET", *started)));
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, ErrorCode::kUnauthorized);
  EXPECT_NE(p.error().message.find("expired"), std::string::npos);
}

TEST_F(SessionsTest, ASessionEndsWhenIdle) {
  SessionOptions options;
  options.idle_timeout = 0ms;
  Sessions sessions(options, *keys_, db());
  auto started = block_on(sessions.start(analyst_.secret));
  ASSERT_TRUE(started.ok());
  auto p = block_on(sessions.resume(request("GET", *started)));
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, ErrorCode::kUnauthorized);
}

TEST_F(SessionsTest, UseMovesTheIdleEnd) {
  SessionOptions options;
  options.touch_every = 0ms;  // every use is recorded
  Sessions sessions(options, *keys_, db());
  auto started = block_on(sessions.start(analyst_.secret));
  ASSERT_TRUE(started.ok());
  auto id_hash = sha256_hex(started->token);
  auto before = block_on(db().find_session(id_hash));
  ASSERT_TRUE(before.ok() && before->has_value());
  // Poll until the clock moved, then use the session: last_seen_at follows.
  while (domain::now_millis() <= (*before)->last_seen_at) {
  }
  ASSERT_TRUE(block_on(sessions.resume(request("GET", *started))).ok());
  auto after = block_on(db().find_session(id_hash));
  ASSERT_TRUE(after.ok() && after->has_value());
  EXPECT_GT((*after)->last_seen_at, (*before)->last_seen_at);
}

TEST_F(SessionsTest, RevokingTheKeyEndsItsSessions) {
  Sessions sessions({}, *keys_, db());
  auto started = block_on(sessions.start(analyst_.secret));
  ASSERT_TRUE(started.ok());
  ASSERT_TRUE(block_on(sessions.resume(request("GET", *started))).ok());
  ASSERT_TRUE(block_on(db().revoke_api_key(analyst_.record.id, domain::now_millis())).ok());
  auto p = block_on(sessions.resume(request("GET", *started)));
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, ErrorCode::kUnauthorized);
  EXPECT_NE(p.error().message.find("revoked"), std::string::npos);
  // The session was forgotten with it.
  auto gone = block_on(db().find_session(sha256_hex(started->token)));
  ASSERT_TRUE(gone.ok());
  EXPECT_FALSE(gone->has_value());
}

TEST_F(SessionsTest, EndedSessionsAndMalformedCookiesAreRefused) {
  Sessions sessions({}, *keys_, db());
  auto started = block_on(sessions.start(analyst_.secret));
  ASSERT_TRUE(started.ok());
  auto p = block_on(sessions.resume(request("GET", *started)));
  ASSERT_TRUE(p.ok());
  ASSERT_TRUE(block_on(sessions.end(*p->session)).ok());
  EXPECT_FALSE(block_on(sessions.resume(request("GET", *started))).ok());
  const std::vector<std::string> cookies{"txv_session=", "txv_session=abc", "other=1",
                                         "txv_sessionx=" + started->token};
  for (const std::string& cookie : cookies) {
    http::Request r;
    r.method = "GET";
    r.headers["cookie"] = cookie;
    auto refused = block_on(sessions.resume(r));
    ASSERT_FALSE(refused.ok()) << cookie;
    EXPECT_EQ(refused.error().code, ErrorCode::kUnauthorized);
  }
}

TEST_F(SessionsTest, CookiesCarryTheContractsAttributes) {
  SessionOptions options;
  options.secure_cookie = true;
  Sessions sessions(options, *keys_, db());
  StartedSession s;
  s.token = "txs_abc";
  EXPECT_EQ(sessions.cookie(s), "txv_session=txs_abc; Path=/; Max-Age=43200; HttpOnly; SameSite=Strict; Secure");
  EXPECT_EQ(sessions.expired_cookie(), "txv_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict; Secure");
}

}  // namespace
}  // namespace txv::api
