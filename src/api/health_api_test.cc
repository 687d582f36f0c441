// WriteHealth: which write outcomes make a replica unready.
#include "api/health_api.h"

#include <gtest/gtest.h>

namespace txv::api {
namespace {

TEST(WriteHealth, OnlyAWriteThatCouldNotPersistTurnsItFailingAndASuccessClearsIt) {
  WriteHealth health;
  EXPECT_FALSE(health.failing());
  health.record(make_error("conflict", "taken"));
  EXPECT_FALSE(health.failing());
  health.record(make_error("internal", "a value was rejected by the database"));  // one request's bad value
  EXPECT_FALSE(health.failing());
  health.record(make_error("unavailable", "database or disk is full"));
  EXPECT_TRUE(health.failing());
  health.record(make_error("internal", "a value was rejected by the database"));
  EXPECT_TRUE(health.failing());
  health.record(Ok{});
  EXPECT_FALSE(health.failing());
}

}  // namespace
}  // namespace txv::api
