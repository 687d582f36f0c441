#include "store/sqlite/decision_key_filter.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace txv::store::sqlite {
namespace {

std::string txid(int i) { return "tx-" + std::to_string(i); }

TEST(DecisionKeyFilterTest, EveryAddedKeyIsMaybeAndFewOthersAre) {
  constexpr int kKeys = 200'000;
  DecisionKeyFilter filter(kKeys);
  EXPECT_EQ(filter.capacity(), static_cast<std::size_t>(kKeys));
  for (int i = 0; i < kKeys; ++i) EXPECT_FALSE(filter.may_contain("m-1", txid(i))) << i;  // empty: all absent
  for (int i = 0; i < kKeys; ++i) filter.add("m-1", txid(i));
  EXPECT_EQ(filter.added(), static_cast<std::size_t>(kKeys));
  for (int i = 0; i < kKeys; ++i) ASSERT_TRUE(filter.may_contain("m-1", txid(i))) << i;  // no false negative
  int false_positives = 0;
  for (int i = kKeys; i < 2 * kKeys; ++i) false_positives += filter.may_contain("m-1", txid(i));
  // At capacity: ~0.6% expected; 1.5% leaves room for the hash's luck, not for a broken filter (100% or ~50%).
  EXPECT_LT(false_positives, kKeys * 15 / 1000);
  // The merchant is part of the key: the same transaction id under another merchant is mostly absent.
  int other_merchant = 0;
  for (int i = 0; i < kKeys; ++i) other_merchant += filter.may_contain("m-2", txid(i));
  EXPECT_LT(other_merchant, kKeys * 15 / 1000);
  // ("m-1", "x") and ("m-1x", "") are different keys.
  DecisionKeyFilter small(16);
  small.add("m-1", "x");
  EXPECT_TRUE(small.may_contain("m-1", "x"));
}

TEST(DecisionKeyFilterTest, ConcurrentAddsAreAllKept) {
  DecisionKeyFilter filter(100'000);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&filter, t] {
      for (int i = 0; i < 25'000; ++i) filter.add("m-" + std::to_string(t), txid(i));
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(filter.added(), 100'000u);
  for (int t = 0; t < 4; ++t) {
    for (int i = 0; i < 25'000; ++i) ASSERT_TRUE(filter.may_contain("m-" + std::to_string(t), txid(i)));
  }
}

}  // namespace
}  // namespace txv::store::sqlite
