// DegradingVelocityCounters: routing to the primary, falling back while it is
// unavailable, and replaying exactly the missed events when it returns. The
// primary is a real LocalVelocityCounters behind a switch that makes it answer
// "unavailable" (Redis down is exercised end to end in tests/replica).
#include "cache/degrading_velocity_counters.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <thread>
#include <vector>

#include "cache/local/local_velocity_counters.h"
#include "common/async_test_runner.h"
#include "domain/time.h"

namespace txv::cache {
namespace {

using txv::testing::AsyncRunner;
using txv::testing::wait_until;

// A real counter back-end that can be switched off.
class SwitchableCounters final : public VelocityCounters {
 public:
  std::atomic<bool> down{false};
  std::atomic<bool> refuse{false};  // answer "internal" (a bad input, not an outage)
  std::atomic<int> calls{0};
  LocalVelocityCounters inner;

  Task<Result<VelocityRead>> read_and_record(const VelocityEventInput& input,
                                             std::span<const VelocityQuery> queries) override {
    calls.fetch_add(1);
    if (refuse) co_return make_error("internal", "refused");
    if (down) co_return make_error("unavailable", "down");
    co_return co_await inner.read_and_record(input, queries);
  }
  Task<Status> cancel(const VelocityTicket& ticket) override {
    if (down) co_return make_error("unavailable", "down");
    co_return co_await inner.cancel(ticket);
  }
};

class DegradingTest : public ::testing::Test {
 protected:
  DegradingTest() : work_(asio::make_work_guard(loop_)), loop_thread_([this] { loop_.run(); }) {
    DegradingVelocityCountersOptions options;
    options.executor = loop_.get_executor();
    options.retry_interval = std::chrono::milliseconds(10);
    options.on_state = [this](bool degraded) { states_.push_back(degraded); };
    options.on_error = [this] { errors_.fetch_add(1); };
    counters_ = std::make_unique<DegradingVelocityCounters>(primary_, fallback_, std::move(options));
  }
  ~DegradingTest() override {
    counters_->stop();
    work_.reset();
    loop_thread_.join();
  }
  template <class T>
  T run(Task<T> task) {
    auto wrap = [](Task<T> t) -> Task<std::optional<T>> { co_return co_await std::move(t); };
    return *runner_.run(wrap(std::move(task)));
  }
  VelocityEventInput event(std::int64_t amount = 100) const {
    VelocityEventInput in;
    in.keys[static_cast<std::size_t>(VelocityKey::kCard)] = "card-1";
    in.keys[static_cast<std::size_t>(VelocityKey::kMerchant)] = "m-1";
    in.amount = amount;
    in.currency = "USD";
    in.at = domain::now_millis();
    return in;
  }
  std::int64_t card_count(VelocityCounters& c) {
    // Reads through a throw-away event on another card value... no: count this card, then cancel the probe.
    std::vector<VelocityQuery> q{{VelocityKey::kCard, 3600 * 1000}};
    auto read = run(c.read_and_record(event(), q));
    EXPECT_TRUE(read.ok());
    if (!read.ok()) return -1;
    EXPECT_TRUE(run(c.cancel(read->ticket)).ok());
    return read->totals[0] ? read->totals[0]->count : -1;
  }

  AsyncRunner runner_;
  asio::io_context loop_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread loop_thread_;
  SwitchableCounters primary_;
  LocalVelocityCounters fallback_;
  std::vector<bool> states_;  // written on the loop or a runner thread, read after wait_until
  std::atomic<int> errors_{0};
  std::unique_ptr<DegradingVelocityCounters> counters_;
  const std::vector<VelocityQuery> queries_{{VelocityKey::kCard, 3600 * 1000}};
};

TEST_F(DegradingTest, HealthyPrimaryAnswersAndCancels) {
  auto first = run(counters_->read_and_record(event(), queries_));
  ASSERT_TRUE(first.ok());
  auto second = run(counters_->read_and_record(event(), queries_));
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->totals[0]->count, 1);
  ASSERT_TRUE(run(counters_->cancel(second->ticket)).ok());
  EXPECT_EQ(card_count(primary_.inner), 1);
  EXPECT_FALSE(counters_->degraded());
  EXPECT_EQ(card_count(fallback_), 0);
}

TEST_F(DegradingTest, AnOutageFallsBackAndTheReturnReplaysExactlyTheMissedEvents) {
  ASSERT_TRUE(run(counters_->read_and_record(event(), queries_)).ok());  // 1 in the primary
  primary_.down = true;
  std::vector<VelocityTicket> during;
  for (int i = 0; i < 5; ++i) {
    auto read = run(counters_->read_and_record(event(), queries_));
    ASSERT_TRUE(read.ok()) << read.error().message;
    EXPECT_NE(read->ticket.id, 0u);
    during.push_back(read->ticket);
  }
  EXPECT_TRUE(counters_->degraded());
  EXPECT_GE(errors_.load(), 1);
  // One decision made during the outage was not stored: it must not be replayed.
  ASSERT_TRUE(run(counters_->cancel(during[2])).ok());
  EXPECT_EQ(counters_->pending(), 5u);
  const int calls_while_down = primary_.calls.load();
  // Still degraded: further calls go straight to the fallback, not the primary (which would only time out).
  ASSERT_TRUE(run(counters_->read_and_record(event(), queries_)).ok());
  EXPECT_LE(primary_.calls.load(), calls_while_down + 2);  // the recovery loop may have retried meanwhile

  primary_.down = false;
  ASSERT_TRUE(wait_until([&] { return !counters_->degraded(); }));
  EXPECT_EQ(counters_->pending(), 0u);
  // 1 before + 6 during - 1 cancelled.
  EXPECT_EQ(card_count(primary_.inner), 6);
  ASSERT_GE(states_.size(), 2u);
  EXPECT_TRUE(states_.front());
  EXPECT_FALSE(states_.back());
  // A replayed event cancelled afterwards leaves the primary too.
  ASSERT_TRUE(run(counters_->cancel(during[0])).ok());
  EXPECT_EQ(card_count(primary_.inner), 5);
  // Back to normal: the primary answers.
  auto after = run(counters_->read_and_record(event(), queries_));
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->totals[0]->count, 5);
}

TEST_F(DegradingTest, AnErrorThatIsNotAnOutageIsTheAnswer) {
  primary_.refuse = true;
  auto read = run(counters_->read_and_record(event(), queries_));
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.error().code, ErrorCode::kInternal);
  EXPECT_FALSE(counters_->degraded());
  EXPECT_EQ(counters_->pending(), 0u);
}

}  // namespace
}  // namespace txv::cache
