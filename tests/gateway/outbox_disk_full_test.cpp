// OutboxStore on a file system that fills up: a size-limited tmpfs (skipped, with the reason, where
// mounting one is not permitted).
#include <gtest/gtest.h>

#include "guardian/gateway/outbox_store.hpp"
#include "guardian/testing/environment.hpp"
#include "guardian/testing/small_file_system.hpp"
#include "queue_test_support.hpp"

namespace guardian::gateway {
namespace {

using test::queue_config;
using test::telemetry_message;
using testing::SmallFileSystem;
using testing::TempDir;

std::vector<PendingMessage> batch_of(std::size_t n, std::int64_t base_ms) {
  std::vector<PendingMessage> out;
  for (std::size_t i = 0; i < n; ++i)
    out.push_back(telemetry_message("meter-1", 40, base_ms + static_cast<std::int64_t>(i)));
  return out;
}

TEST(OutboxStoreDiskFull, DropOldestKeepsAcceptingOnAFullDiskAndRecordsWhatWent) {
  TempDir dir;
  SmallFileSystem disk(dir / "disk", "1m");
  if (!disk.mounted()) GTEST_SKIP() << disk.why_not();
  auto c = queue_config(dir);
  c.path = disk.path() / "queue.db";
  auto opened = OutboxStore::open(c);
  ASSERT_TRUE(opened) << opened.error().describe();
  auto store = std::move(opened).value();
  std::uint64_t accepted = 0;
  for (int round = 0; round < 200; ++round) {
    auto r = store.commit_batch(batch_of(5, 1'795'680'000'000 + round * 10));
    ASSERT_TRUE(r) << "round " << round << ": " << r.error().describe();
    EXPECT_EQ(r.value().size(), 5u) << "round " << round << ": the newest data is accepted";
    accepted += r.value().size();
  }
  EXPECT_TRUE(store.stats().disk_full) << "the disk never filled: the test tested nothing";
  const auto dropped = store.stats().dropped[static_cast<std::size_t>(DropReason::disk_full)];
  EXPECT_GT(dropped, 0u);
  const auto ledger = store.gap_ledger();
  ASSERT_EQ(ledger.size(), 1u);
  EXPECT_EQ(ledger[0].reason, DropReason::disk_full);
  EXPECT_EQ(ledger[0].messages + store.stats().depth, accepted)
      << "every accepted message is either still queued or counted as dropped";
  // Still writable: the gap ledger is reported, acknowledged messages are deleted.
  auto gaps = store.report_gaps();
  ASSERT_TRUE(gaps) << gaps.error().describe();
  EXPECT_EQ(gaps.value().size(), 1u);
  const auto all = store.fetch_after(0, 1000);
  ASSERT_TRUE(all);
  std::vector<std::uint64_t> seqs;
  for (const auto& m : all.value()) seqs.push_back(m.seq);
  ASSERT_TRUE(store.remove(seqs)) << "acknowledged messages can be deleted on a full disk";
  EXPECT_EQ(store.stats().depth, 0u);
  auto r = store.commit_batch(batch_of(5, 1'795'690'000'000));
  ASSERT_TRUE(r);
  EXPECT_FALSE(store.stats().disk_full) << "space is back once the queue drained";
}

TEST(OutboxStoreDiskFull, RejectNewRefusesOnAFullDiskAndAcceptsAgainWhenSpaceReturns) {
  TempDir dir;
  SmallFileSystem disk(dir / "disk", "1m");
  if (!disk.mounted()) GTEST_SKIP() << disk.why_not();
  disk.fill("ballast", 512 * 1024);
  auto c = queue_config(dir);
  c.path = disk.path() / "queue.db";
  c.when_full = config::FullPolicy::reject_new;
  auto opened = OutboxStore::open(c);
  ASSERT_TRUE(opened) << opened.error().describe();
  auto store = std::move(opened).value();
  // Near the end the queue grows by half of what is left each time, then refuses everything.
  std::vector<std::uint64_t> kept;
  bool refused_all = false;
  for (int round = 0; round < 200 && !refused_all; ++round) {
    auto r = store.commit_batch(batch_of(5, 1'795'680'000'000 + round * 10));
    ASSERT_TRUE(r) << r.error().describe();
    kept.insert(kept.end(), r.value().begin(), r.value().end());
    refused_all = r.value().empty();
  }
  ASSERT_TRUE(refused_all) << "the disk never filled";
  EXPECT_TRUE(store.stats().disk_full);
  const auto ledger = store.gap_ledger();
  ASSERT_FALSE(ledger.empty());
  EXPECT_EQ(ledger.back().reason, DropReason::disk_full);
  EXPECT_EQ(ledger.back().messages, 0u) << "nothing accepted was dropped";
  const auto all = store.fetch_after(0, 1000);
  ASSERT_TRUE(all);
  std::vector<std::uint64_t> stored;
  for (const auto& m : all.value()) stored.push_back(m.seq);
  EXPECT_EQ(stored, kept);

  std::filesystem::remove(disk.path() / "ballast");
  auto r = store.commit_batch(batch_of(5, 1'795'690'000'000));
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(r.value().size(), 5u);
  EXPECT_FALSE(store.stats().disk_full);
}

}  // namespace
}  // namespace guardian::gateway
