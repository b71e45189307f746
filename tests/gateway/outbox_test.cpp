// Outbox: the asynchronous face of the queue, with a real SQLite store on a temporary directory.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <future>
#include <set>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include "guardian/gateway/gap_report.hpp"
#include "guardian/gateway/outbox.hpp"
#include "guardian/testing/environment.hpp"
#include "queue_test_support.hpp"

namespace guardian::gateway {
namespace {

using namespace std::chrono_literals;
using test::queue_config;
using test::run_io_until;
using test::telemetry_message;
using testing::TempDir;

std::unique_ptr<Outbox> make_outbox(boost::asio::io_context& io, const config::QueueConfig& c) {
  auto store = OutboxStore::open(c);
  if (!store) ADD_FAILURE() << store.error().describe();
  return std::make_unique<Outbox>(io, std::move(store).value(), c);
}

std::set<std::uint64_t> seqs_of(const std::vector<StoredMessage>& messages) {
  std::set<std::uint64_t> out;
  for (const auto& m : messages) out.insert(m.seq);
  return out;
}

// Rows actually in the file, seen through an independent connection.
std::int64_t rows_in_file(const std::filesystem::path& path) {
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_stmt* stmt = nullptr;
  std::int64_t n = -1;
  if (sqlite3_prepare_v2(db, "SELECT count(*) FROM outbox", -1, &stmt, nullptr) == SQLITE_OK &&
      sqlite3_step(stmt) == SQLITE_ROW)
    n = sqlite3_column_int64(stmt, 0);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return n;
}

// Fetches on the io_context and waits (running it) for the result.
std::vector<StoredMessage> fetch(boost::asio::io_context& io, Outbox& outbox, std::uint64_t after,
                                 std::size_t limit) {
  std::optional<result<std::vector<StoredMessage>>> got;
  outbox.async_fetch(after, limit,
                     [&](result<std::vector<StoredMessage>> r) { got = std::move(r); });
  EXPECT_TRUE(run_io_until(
      io, [&] { return got.has_value(); }, 10s));
  if (!got || !*got) {
    ADD_FAILURE() << "fetch failed";
    return {};
  }
  return std::move(*got).value();
}

TEST(Outbox, CommitsManySubmissionsInFewGroupCommits) {
  TempDir dir;
  boost::asio::io_context io;
  const auto c = queue_config(dir);
  auto outbox = make_outbox(io, c);
  std::uint64_t last_notified = 0;
  outbox->on_committed([&](std::uint64_t last) { last_notified = last; });

  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(outbox->submit(telemetry_message("meter-1", 3)));
  EXPECT_EQ(outbox->stats().pending_messages, 1000u);
  ASSERT_TRUE(run_io_until(
      io, [&] { return last_notified == 1000; }, 10s));
  EXPECT_EQ(outbox->counters().submitted, 1000u);
  EXPECT_EQ(outbox->counters().committed, 1000u);
  EXPECT_LE(outbox->counters().commits, 3u);
  EXPECT_EQ(outbox->stats().depth, 1000u);
  EXPECT_EQ(outbox->stats().pending_messages, 0u);
  EXPECT_EQ(outbox->pending_bytes(), 0u);
}

TEST(Outbox, CommitsALoneSubmissionWhenTheCommitWindowElapses) {
  TempDir dir;
  boost::asio::io_context io;
  auto outbox = make_outbox(io, queue_config(dir));
  ASSERT_TRUE(outbox->submit(telemetry_message("meter-1", 1)));
  ASSERT_TRUE(run_io_until(
      io, [&] { return outbox->counters().committed == 1; }, 5s));
  EXPECT_EQ(outbox->counters().commits, 1u);
  EXPECT_EQ(outbox->stats().last_seq, 1u);
}

TEST(Outbox, RefusesAndCountsSubmissionsBeyondMaxPendingBytes) {
  TempDir dir;
  boost::asio::io_context io;
  auto c = queue_config(dir);
  const auto sample = telemetry_message("meter-1", 3);
  c.max_pending_bytes = sample.body.size() * 10;
  auto outbox = make_outbox(io, c);

  // The io_context does not run: nothing committed comes back, so memory only grows.
  std::size_t accepted = 0;
  while (outbox->submit(sample)) ++accepted;
  EXPECT_EQ(accepted, 10u);
  EXPECT_FALSE(outbox->submit(sample));
  EXPECT_EQ(outbox->counters().rejected, 2u);
  EXPECT_LE(outbox->pending_bytes(), c.max_pending_bytes);

  ASSERT_TRUE(run_io_until(
      io, [&] { return outbox->counters().committed == accepted; }, 10s));
  EXPECT_EQ(outbox->pending_bytes(), 0u);
  EXPECT_TRUE(outbox->submit(sample));
  EXPECT_EQ(outbox->stats().depth, accepted);  // refused messages were never accepted
}

TEST(Outbox, RecordsARefusalWithTheNextCommitAndReportsItOnItsOwn) {
  TempDir dir;
  boost::asio::io_context io;
  auto c = queue_config(dir);
  c.gap_interval = 1s;
  const auto sample = telemetry_message("meter-1", 3);
  c.max_pending_bytes = sample.body.size();
  auto outbox = make_outbox(io, c);
  ASSERT_TRUE(outbox->submit(sample));
  ASSERT_FALSE(outbox->submit(sample));
  // No flush, nothing else submitted: the commit timer and the housekeeping timer do it all.
  ASSERT_TRUE(run_io_until(
      io, [&] { return outbox->counters().gaps_reported == 1; }, 10s));
  const auto messages = fetch(io, *outbox, 0, 10);
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[1].kind, MessageKind::gap);
  const auto gap = decode_gap(messages[1].body);
  ASSERT_TRUE(gap);
  EXPECT_EQ(gap->reason, DropReason::backpressure);
  EXPECT_EQ(gap->count, 3u);
  EXPECT_EQ(outbox->stats().gaps_pending, 0u);
}

TEST(Outbox, AppliesMaxAgeOnItsHousekeepingTimerAndReportsWhatExpired) {
  TempDir dir;
  boost::asio::io_context io;
  auto c = queue_config(dir);
  c.max_age = 1ms;  // the file syntax allows 1m at least; the mechanism is the same
  c.gap_interval = 1s;
  auto outbox = make_outbox(io, c);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(outbox->submit(telemetry_message("meter-1", 2)));
  ASSERT_TRUE(run_io_until(
      io, [&] { return outbox->counters().expired == 3 && outbox->counters().gaps_reported == 1; },
      10s));
  const auto left = fetch(io, *outbox, 0, 10);
  ASSERT_EQ(left.size(), 1u) << "only the gap message";
  const auto gap = decode_gap(left[0].body);
  ASSERT_TRUE(gap);
  EXPECT_EQ(gap->reason, DropReason::max_age);
  EXPECT_EQ(gap->messages, 3u);
  EXPECT_EQ(gap->count, 6u);
}

TEST(Outbox, NeverFetchesAMessageAcknowledgedButNotYetDeleted) {
  TempDir dir;
  boost::asio::io_context io;
  auto c = queue_config(dir);
  c.commit_window = 1h;  // the batched delete will not run until flush()
  auto outbox = make_outbox(io, c);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(outbox->submit(telemetry_message("meter-1", 2)));
  outbox->flush();
  ASSERT_EQ(outbox->counters().committed, 10u);

  outbox->acknowledge(3);
  outbox->acknowledge(4);
  auto all = fetch(io, *outbox, 0, 100);
  EXPECT_EQ(rows_in_file(c.path), 10);  // the delete has not happened
  EXPECT_EQ(seqs_of(all), (std::set<std::uint64_t>{1, 2, 5, 6, 7, 8, 9, 10}));
  // The limit counts returned messages, not the ones left out.
  EXPECT_EQ(seqs_of(fetch(io, *outbox, 0, 3)), (std::set<std::uint64_t>{1, 2, 5}));

  outbox->flush();
  EXPECT_EQ(rows_in_file(c.path), 8);
  EXPECT_EQ(outbox->counters().acknowledged, 2u);
  EXPECT_EQ(outbox->stats().depth, 8u);
  EXPECT_EQ(seqs_of(fetch(io, *outbox, 0, 100)).size(), 8u);
}

TEST(Outbox, DeletesAcknowledgedMessagesInBatches) {
  TempDir dir;
  boost::asio::io_context io;
  const auto c = queue_config(dir);
  auto outbox = make_outbox(io, c);
  for (int i = 0; i < 300; ++i) ASSERT_TRUE(outbox->submit(telemetry_message("meter-1", 1)));
  ASSERT_TRUE(run_io_until(
      io, [&] { return outbox->counters().committed == 300; }, 10s));
  for (std::uint64_t seq = 1; seq <= 300; ++seq) outbox->acknowledge(seq);
  ASSERT_TRUE(run_io_until(
      io, [&] { return outbox->counters().acknowledged == 300; }, 10s));
  EXPECT_EQ(outbox->stats().depth, 0u);
  EXPECT_EQ(rows_in_file(c.path), 0);
}

TEST(Outbox, FlushesEverythingPendingWhenDestroyed) {
  TempDir dir;
  boost::asio::io_context io;
  auto c = queue_config(dir);
  c.commit_window = 1h;
  {
    auto outbox = make_outbox(io, c);
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(outbox->submit(telemetry_message("meter-1", 2)));
    outbox->flush();
    for (std::uint64_t seq = 1; seq <= 5; ++seq) outbox->acknowledge(seq);
    for (int i = 0; i < 500; ++i) ASSERT_TRUE(outbox->submit(telemetry_message("meter-1", 2)));
    EXPECT_EQ(outbox->counters().committed, 10u);
  }
  auto store = OutboxStore::open(c);
  ASSERT_TRUE(store) << store.error().describe();
  EXPECT_EQ(store.value().stats().depth, 505u);
  EXPECT_EQ(store.value().stats().last_seq, 510u);
  EXPECT_EQ(store.value().fetch_after(0, 1).value().at(0).seq, 6u);
}

TEST(Outbox, RunsEveryHandlerOnTheIoContextThread) {
  TempDir dir;
  boost::asio::io_context io;
  auto guard = boost::asio::make_work_guard(io);
  std::thread io_thread([&] { io.run(); });
  std::unique_ptr<Outbox> outbox;
  std::promise<std::thread::id> committed_on;
  std::promise<std::thread::id> fetched_on;
  boost::asio::post(io, [&] {
    outbox = make_outbox(io, queue_config(dir));
    outbox->on_committed([&, once = false](std::uint64_t) mutable {
      if (once) return;
      once = true;
      committed_on.set_value(std::this_thread::get_id());
      outbox->async_fetch(0, 10, [&](result<std::vector<StoredMessage>>) {
        fetched_on.set_value(std::this_thread::get_id());
      });
    });
    outbox->submit(telemetry_message("meter-1", 1));
  });
  auto committed = committed_on.get_future();
  auto fetched = fetched_on.get_future();
  ASSERT_EQ(committed.wait_for(10s), std::future_status::ready);
  ASSERT_EQ(fetched.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(committed.get(), io_thread.get_id());
  EXPECT_EQ(fetched.get(), io_thread.get_id());
  std::promise<void> destroyed;
  boost::asio::post(io, [&] {
    outbox.reset();
    destroyed.set_value();
  });
  ASSERT_EQ(destroyed.get_future().wait_for(10s), std::future_status::ready);
  guard.reset();
  io_thread.join();
}

TEST(Outbox, RetriesABatchWhoseCommitFailedUntilItIsAccepted) {
  TempDir dir;
  boost::asio::io_context io;
  const auto c = queue_config(dir);
  auto outbox = make_outbox(io, c);

  // Another process (a technician's sqlite3 shell, say) holds the write lock.
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(c.path.c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);

  for (int i = 0; i < 5; ++i) ASSERT_TRUE(outbox->submit(telemetry_message("meter-1", 1)));
  ASSERT_TRUE(run_io_until(
      io, [&] { return outbox->counters().commit_errors >= 1; }, 10s));
  EXPECT_EQ(outbox->counters().committed, 0u);
  EXPECT_NE(outbox->counters().last_error.find("locked"), std::string::npos)
      << outbox->counters().last_error;
  EXPECT_EQ(outbox->stats().pending_messages, 5u);

  ASSERT_EQ(sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(other);
  ASSERT_TRUE(run_io_until(
      io, [&] { return outbox->counters().committed == 5; }, 20s));
  EXPECT_EQ(seqs_of(fetch(io, *outbox, 0, 10)), (std::set<std::uint64_t>{1, 2, 3, 4, 5}));
}

TEST(Outbox, ReportsAQuarantineFoundAtOpenInItsStats) {
  TempDir dir;
  boost::asio::io_context io;
  const auto c = queue_config(dir);
  testing::write_file(c.path, std::string(8192, 'x'));
  auto outbox = make_outbox(io, c);
  ASSERT_TRUE(outbox->stats().quarantine);
  EXPECT_TRUE(std::filesystem::exists(outbox->stats().quarantine->moved_to));
}

}  // namespace
}  // namespace guardian::gateway
