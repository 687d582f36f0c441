// Authenticator against a real SQLite store, seen through a decorator that
// counts the look-ups it makes.
#include "api/auth.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <vector>

#include "common/async.h"
#include "domain/time.h"
#include "store/sqlite/sqlite_database.h"

namespace txv::api {
namespace {

class CountingKeys final : public store::ApiKeyStore {
 public:
  explicit CountingKeys(store::ApiKeyStore& inner) : inner_(inner) {}
  Task<Status> create_api_key(const store::ApiKey& key) override { return inner_.create_api_key(key); }
  Task<Result<std::optional<store::ApiKey>>> find_api_key_by_hash(const std::string& hash) override {
    lookups.fetch_add(1);
    return inner_.find_api_key_by_hash(hash);
  }
  Task<Result<std::vector<store::ApiKey>>> list_api_keys() override { return inner_.list_api_keys(); }
  Task<Result<store::ApiKey>> revoke_api_key(const std::string& id, domain::TimePoint at) override {
    return inner_.revoke_api_key(id, at);
  }
  Task<Status> touch_api_key(const std::string& id, domain::TimePoint at) override {
    return inner_.touch_api_key(id, at);
  }
  std::atomic<int> lookups{0};

 private:
  store::ApiKeyStore& inner_;
};

class AuthenticatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "txv-auth-test-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    store::SqliteOptions options;
    options.path = dir_ + "/txv.db";
    auto db = store::open_sqlite_database(options);
    ASSERT_TRUE(db.ok());
    db_ = std::move(*db);
    ASSERT_TRUE(db_->migrate().ok());
    keys_ = std::make_unique<CountingKeys>(*db_);
    key_ = generate_api_key(store::Role::kAnalyst, std::string("m-1"), "ana", domain::now_millis());
    ASSERT_TRUE(block_on(db_->create_api_key(key_.record)).ok());
  }
  void TearDown() override {
    db_->close();
    db_.reset();
    std::filesystem::remove_all(dir_);
  }
  Result<Principal> authenticate(Authenticator& auth, const std::string& header) {
    http::Request r;
    r.headers["authorization"] = header;
    return block_on(auth.authenticate(r));
  }

  std::string dir_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<CountingKeys> keys_;
  NewApiKey key_;
};

TEST_F(AuthenticatorTest, AKeyAuthenticatesWhateverTheSchemesCase) {
  Authenticator auth({}, *keys_);
  for (const char* scheme : {"Bearer ", "bearer ", "BEARER ", "bEaReR  "}) {
    auto p = authenticate(auth, scheme + key_.secret);
    ASSERT_TRUE(p.ok()) << scheme;
    EXPECT_EQ(p->key_id, key_.record.id);
    EXPECT_EQ(p->role, store::Role::kAnalyst);
    EXPECT_EQ(p->merchant_id, "m-1");
  }
  EXPECT_EQ(keys_->lookups.load(), 1);  // cached after the first
}

TEST_F(AuthenticatorTest, SecretsThatCannotBeKeysAreRefusedWithoutALookup) {
  Authenticator auth({}, *keys_);
  const std::string wrong_char = "txv_" + std::string(42, 'A') + "!";
  const std::vector<std::string> headers = {"Bearer not-a-key",
                                            "Bearer " + std::string(5000, 'k'),
                                            "Bearer txv_short",
                                            "Bearer " + key_.secret + "x",
                                            "Bearer x" + key_.secret,
                                            "Bearer " + wrong_char,
                                            "Basic abc",
                                            "Bearer",
                                            key_.secret};
  for (const std::string& header : headers) {
    auto p = authenticate(auth, header);
    ASSERT_FALSE(p.ok()) << header.substr(0, 40);
    EXPECT_EQ(p.error().code, ErrorCode::kUnauthorized);
  }
  EXPECT_EQ(keys_->lookups.load(), 0);
  // A well-formed key that does not exist is looked up (and refused).
  auto unknown = generate_api_key(store::Role::kAdmin, std::nullopt, "", domain::now_millis());
  EXPECT_FALSE(authenticate(auth, "Bearer " + unknown.secret).ok());
  EXPECT_EQ(keys_->lookups.load(), 1);
}

TEST_F(AuthenticatorTest, ARevokedKeyIsRefusedOnceTheCacheIsRechecked) {
  AuthenticatorOptions options;
  options.recheck_after = std::chrono::milliseconds(0);  // re-read on every request
  Authenticator auth(options, *keys_);
  ASSERT_TRUE(authenticate(auth, "Bearer " + key_.secret).ok());
  ASSERT_TRUE(block_on(db_->revoke_api_key(key_.record.id, domain::now_millis())).ok());
  auto p = authenticate(auth, "Bearer " + key_.secret);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, ErrorCode::kUnauthorized);
  EXPECT_NE(p.error().message.find("revoked"), std::string::npos);
}

}  // namespace
}  // namespace txv::api
