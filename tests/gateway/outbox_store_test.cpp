// OutboxStore against real SQLite files in temporary directories, including damaged fixture files
// (tests/gateway/fixtures, made by make_queue_fixtures.sh).
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <iostream>
#include <memory>

#include "guardian/gateway/outbox_store.hpp"
#include "guardian/testing/environment.hpp"
#include "queue_test_support.hpp"

namespace guardian::gateway {
namespace {

namespace fs = std::filesystem;
using test::open_store;
using test::queue_config;
using test::telemetry_message;
using testing::TempDir;

std::vector<std::uint64_t> commit(OutboxStore& store, std::vector<PendingMessage> batch) {
  auto r = store.commit_batch(batch);
  if (!r) ADD_FAILURE() << r.error().describe();
  return std::move(r).value();
}

std::vector<PendingMessage> messages(std::size_t n, std::uint32_t readings = 3) {
  std::vector<PendingMessage> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(telemetry_message("meter-1", readings));
  return out;
}

std::vector<std::uint64_t> all_seqs(OutboxStore& store) {
  auto r = store.fetch_after(0, 1'000'000);
  EXPECT_TRUE(r) << r.error().describe();
  std::vector<std::uint64_t> seqs;
  for (const auto& m : r.value()) seqs.push_back(m.seq);
  return seqs;
}

fs::path fixture(const std::string& name) {
  return testing::source_path("tests/gateway/fixtures/" + name);
}

// A second, independent connection for looking at (or interfering with) the file from outside.
struct ExternalConnection {
  explicit ExternalConnection(const fs::path& path) {
    EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
  }
  ~ExternalConnection() { sqlite3_close(db); }
  std::string text(const char* sql) {
    sqlite3_stmt* stmt = nullptr;
    std::string out;
    if (sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_text(stmt, 0) != nullptr)
      out = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    sqlite3_finalize(stmt);
    return out;
  }
  int exec(const char* sql) { return sqlite3_exec(db, sql, nullptr, nullptr, nullptr); }
  sqlite3* db = nullptr;
};

TEST(OutboxStore, AssignsConsecutiveSeqsToABatchAndFetchesThemInOrder) {
  TempDir dir;
  auto store = open_store(queue_config(dir));
  EXPECT_EQ(commit(store, messages(3)), (std::vector<std::uint64_t>{1, 2, 3}));
  EXPECT_EQ(commit(store, messages(2)), (std::vector<std::uint64_t>{4, 5}));
  EXPECT_EQ(all_seqs(store), (std::vector<std::uint64_t>{1, 2, 3, 4, 5}));
}

TEST(OutboxStore, RoundTripsEveryFieldOfAMessage) {
  TempDir dir;
  auto store = open_store(queue_config(dir));
  PendingMessage m = telemetry_message("espresso-1", 4);
  m.kind = MessageKind::gap;
  m.priority = Priority::alarm;
  const auto before = now_ms();
  ASSERT_EQ(commit(store, {m}).size(), 1u);
  auto fetched = store.fetch_after(0, 10);
  ASSERT_TRUE(fetched);
  ASSERT_EQ(fetched.value().size(), 1u);
  const auto& s = fetched.value()[0];
  EXPECT_EQ(s.seq, 1u);
  EXPECT_EQ(s.kind, MessageKind::gap);
  EXPECT_EQ(s.priority, Priority::alarm);
  EXPECT_EQ(s.source, "espresso-1");
  EXPECT_EQ(s.first_ts, m.first_ts);
  EXPECT_EQ(s.last_ts, m.last_ts);
  EXPECT_EQ(s.count, 4u);
  EXPECT_EQ(s.body, m.body);
  EXPECT_GE(s.created, before);
  EXPECT_LE(s.created, now_ms());
}

TEST(OutboxStore, FetchAfterReturnsOnlyLaterMessagesUpToTheLimit) {
  TempDir dir;
  auto store = open_store(queue_config(dir));
  (void)commit(store, messages(10));
  auto r = store.fetch_after(4, 3);
  ASSERT_TRUE(r);
  ASSERT_EQ(r.value().size(), 3u);
  EXPECT_EQ(r.value()[0].seq, 5u);
  EXPECT_EQ(r.value()[2].seq, 7u);
  EXPECT_TRUE(store.fetch_after(10, 5).value().empty());
}

TEST(OutboxStore, NeverReusesTheHighestSeqAfterItWasDeletedAndTheStoreReopened) {
  TempDir dir;
  const auto c = queue_config(dir);
  {
    auto store = open_store(c);
    (void)commit(store, messages(5));
    const std::vector<std::uint64_t> all{1, 2, 3, 4, 5};
    ASSERT_TRUE(store.remove(all));
    EXPECT_EQ(store.stats().depth, 0u);
    EXPECT_EQ(commit(store, messages(1)), (std::vector<std::uint64_t>{6}));
    const std::vector<std::uint64_t> highest{6};
    ASSERT_TRUE(store.remove(highest));
  }
  auto store = open_store(c);
  EXPECT_EQ(store.stats().last_seq, 6u);
  EXPECT_EQ(commit(store, messages(1)), (std::vector<std::uint64_t>{7}));
}

TEST(OutboxStore, KeepsSeqIncreasingAcrossReopens) {
  TempDir dir;
  const auto c = queue_config(dir);
  std::uint64_t last = 0;
  for (int round = 0; round < 3; ++round) {
    auto store = open_store(c);
    const auto seqs = commit(store, messages(4));
    EXPECT_GT(seqs.front(), last);
    last = seqs.back();
  }
  EXPECT_EQ(last, 12u);
}

TEST(OutboxStore, CommitsABatchAtomicallyAndReusesNoSeqAfterAFailedBatch) {
  TempDir dir;
  const auto c = queue_config(dir);
  auto store = open_store(c);
  (void)commit(store, messages(2));
  {
    // A trigger installed from outside makes the fourth insert of the next batch fail.
    ExternalConnection other(c.path);
    ASSERT_EQ(other.exec("CREATE TRIGGER poison BEFORE INSERT ON outbox WHEN NEW.source = 'poison'"
                         " BEGIN SELECT RAISE(ABORT, 'poisoned message'); END"),
              SQLITE_OK);
  }
  auto batch = messages(3);
  batch.push_back(telemetry_message("poison", 1));
  batch.push_back(telemetry_message("meter-1", 1));
  auto failed = store.commit_batch(batch);
  ASSERT_FALSE(failed);
  EXPECT_NE(failed.error().message.find("poisoned message"), std::string::npos)
      << failed.error().describe();
  EXPECT_EQ(all_seqs(store), (std::vector<std::uint64_t>{1, 2}));
  EXPECT_EQ(store.stats().depth, 2u);
  EXPECT_EQ(store.stats().last_seq, 2u);
  EXPECT_EQ(commit(store, messages(1)), (std::vector<std::uint64_t>{3}));
}

TEST(OutboxStore, MaintainsStatsThroughCommitsAndRemovals) {
  TempDir dir;
  auto store = open_store(queue_config(dir));
  EXPECT_EQ(store.stats().depth, 0u);
  EXPECT_FALSE(store.stats().oldest_created);
  auto batch = messages(4, 5);
  std::uint64_t bytes = 0;
  for (const auto& m : batch) bytes += m.body.size();
  (void)commit(store, batch);
  EXPECT_EQ(store.stats().depth, 4u);
  EXPECT_EQ(store.stats().readings, 20u);
  EXPECT_EQ(store.stats().bytes, bytes);
  EXPECT_EQ(store.stats().last_seq, 4u);
  ASSERT_TRUE(store.stats().oldest_created);

  const std::vector<std::uint64_t> first_two{2, 1, 99};  // unsorted, with an unknown seq
  ASSERT_TRUE(store.remove(first_two));
  EXPECT_EQ(store.stats().depth, 2u);
  EXPECT_EQ(store.stats().readings, 10u);
  EXPECT_EQ(store.stats().bytes, bytes - batch[0].body.size() - batch[1].body.size());
  EXPECT_TRUE(store.stats().oldest_created);
  const std::vector<std::uint64_t> rest{3, 4};
  ASSERT_TRUE(store.remove(rest));
  EXPECT_EQ(store.stats().depth, 0u);
  EXPECT_EQ(store.stats().bytes, 0u);
  EXPECT_FALSE(store.stats().oldest_created);
  EXPECT_EQ(store.stats().last_seq, 4u);
}

TEST(OutboxStore, AMessageTheBrokerRefusedLeavesWithItsReadingsInTheGapLedgerEvenWhenSent) {
  TempDir dir;
  auto store = open_store(queue_config(dir));
  auto claims = std::make_shared<SendClaims>();
  store.share_claims(claims);
  (void)commit(store, messages(3, 5));
  auto fetched = store.fetch_after(0, 10);
  ASSERT_TRUE(fetched);
  ASSERT_EQ(claims->start_sending(2), SendClaims::Verdict::send);  // on its way to the broker
  auto refused = store.refuse(2);
  ASSERT_TRUE(refused) << refused.error().describe();
  EXPECT_TRUE(refused.value());
  EXPECT_EQ(all_seqs(store), (std::vector<std::uint64_t>{1, 3}));
  EXPECT_EQ(store.stats().depth, 2u);
  EXPECT_EQ(store.stats().readings, 10u);
  EXPECT_EQ(store.stats().dropped[static_cast<std::size_t>(DropReason::refused_by_broker)], 5u);
  const auto ledger = store.gap_ledger();
  ASSERT_EQ(ledger.size(), 1u);
  EXPECT_EQ(ledger[0].reason, DropReason::refused_by_broker);
  EXPECT_EQ(ledger[0].count, 5u);
  EXPECT_EQ(ledger[0].messages, 1u);
  EXPECT_FALSE(ledger[0].names.empty());
  EXPECT_EQ(ledger[0].seqs, (std::vector<std::uint64_t>{2})) << "the refused message is named";
  EXPECT_EQ(claims->sent(), 0u) << "its send claim is forgotten";
  // Refused twice (a retry after a lost answer): nothing more happens.
  refused = store.refuse(2);
  ASSERT_TRUE(refused);
  EXPECT_FALSE(refused.value());
  EXPECT_EQ(store.gap_ledger()[0].count, 5u);
  {
    // The ledger keeps the seq in the file.
    auto reopened = open_store(queue_config(dir));
    ASSERT_EQ(reopened.gap_ledger().size(), 1u);
    EXPECT_EQ(reopened.gap_ledger()[0].seqs, (std::vector<std::uint64_t>{2}));
  }
  // Reported like every other drop, under its own reason.
  auto gaps = store.report_gaps();
  ASSERT_TRUE(gaps);
  ASSERT_EQ(gaps.value().size(), 1u);
  const auto gap = store.fetch_after(gaps.value()[0] - 1, 1);
  ASSERT_TRUE(gap);
  EXPECT_NE(gap.value()[0].body.find("\"reason\":\"refused_by_broker\""), std::string::npos)
      << gap.value()[0].body;
  EXPECT_NE(gap.value()[0].body.find("\"seqs\":[2]"), std::string::npos) << gap.value()[0].body;
}

TEST(OutboxStore, LoadsTheSameStatsAfterAReopen) {
  TempDir dir;
  const auto c = queue_config(dir);
  QueueStats before;
  {
    auto store = open_store(c);
    (void)commit(store, messages(6, 7));
    const std::vector<std::uint64_t> two{1, 6};
    ASSERT_TRUE(store.remove(two));
    before = store.stats();
  }
  auto store = open_store(c);
  const auto& after = store.stats();
  EXPECT_EQ(after.depth, 4u);
  EXPECT_EQ(after.depth, before.depth);
  EXPECT_EQ(after.readings, before.readings);
  EXPECT_EQ(after.bytes, before.bytes);
  EXPECT_EQ(after.oldest_created, before.oldest_created);
  EXPECT_EQ(after.last_seq, 6u);
  EXPECT_FALSE(after.quarantine);
}

TEST(OutboxStore, RunsInWalModeWithSynchronousFullByDefault) {
  TempDir dir;
  const auto c = queue_config(dir);
  auto store = open_store(c);
  auto p = store.pragmas();
  ASSERT_TRUE(p) << p.error().describe();
  EXPECT_EQ(p.value().journal_mode, "wal");
  EXPECT_EQ(p.value().synchronous, 2);  // FULL
  EXPECT_EQ(p.value().user_version, OutboxStore::kSchemaVersion);
  // WAL is a property of the file: an independent connection sees it too.
  ExternalConnection other(c.path);
  EXPECT_EQ(other.text("PRAGMA journal_mode"), "wal");
}

TEST(OutboxStore, DeletesWithoutSecureDeleteAndKeepsCommitsFullyDurableAfterADelete) {
  TempDir dir;
  auto store = open_store(queue_config(dir));
  (void)commit(store, messages(4));
  const std::vector<std::uint64_t> some{1, 2};
  ASSERT_TRUE(store.remove(some));
  auto p = store.pragmas();
  ASSERT_TRUE(p);
  EXPECT_EQ(p.value().secure_delete, 2);  // FAST: no second write of every delivered message
  EXPECT_EQ(p.value().synchronous, 2);    // the relaxed delete restored FULL for commits
}

TEST(OutboxStore, UsesSynchronousNormalWhenConfigured) {
  TempDir dir;
  auto store = open_store(queue_config(dir, config::SyncMode::normal));
  auto p = store.pragmas();
  ASSERT_TRUE(p);
  EXPECT_EQ(p.value().synchronous, 1);  // NORMAL
}

TEST(OutboxStore, MigratesAVersionOneQueueFromAFixtureFileInPlace) {
  TempDir dir;
  const auto c = queue_config(dir);
  fs::copy_file(fixture("queue-v1.db"), c.path);
  auto store = open_store(c);
  EXPECT_FALSE(store.stats().quarantine);
  EXPECT_EQ(store.stats().depth, 3u);
  EXPECT_EQ(store.stats().readings, 54u);
  EXPECT_EQ(store.stats().last_seq, 3u);
  auto all = store.fetch_after(0, 10).value();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[1].kind, MessageKind::record);
  EXPECT_EQ(all[1].body, "\"source\":\"espresso-1\",\"type\":\"shot\",\"fields\":[]}");
  EXPECT_EQ(all[2].kind, MessageKind::gap);
  EXPECT_EQ(all[2].priority, Priority::gap) << "version 2 gives gap messages their own priority";
  EXPECT_EQ(store.pragmas().value().user_version, OutboxStore::kSchemaVersion);
  EXPECT_EQ(store.stats().sources.at("espresso-1").messages, 2u);
  EXPECT_EQ(commit(store, messages(1)), (std::vector<std::uint64_t>{4}));
  EXPECT_TRUE(store.report_gaps()) << "the gap ledger exists after the migration";
  EXPECT_TRUE(store.save_state({{"k", "v"}})) << "and so does the edge state";
}

TEST(OutboxStore, QuarantinesAFileThatIsNotADatabaseAndStartsAFreshQueue) {
  TempDir dir;
  const auto c = queue_config(dir);
  fs::copy_file(fixture("queue-garbage.db"), c.path);
  const std::string original = testing::read_file(c.path);

  auto r = OutboxStore::open(c);
  ASSERT_TRUE(r) << r.error().describe();
  auto store = std::move(r).value();
  ASSERT_TRUE(store.stats().quarantine);
  const auto& notice = *store.stats().quarantine;
  EXPECT_NE(notice.reason.find("not a database"), std::string::npos) << notice.reason;
  EXPECT_EQ(notice.moved_to.parent_path(), c.path.parent_path());
  EXPECT_EQ(notice.moved_to.filename().string().rfind("queue.db.corrupt-", 0), 0u)
      << notice.moved_to;
  // Moved aside byte for byte, never deleted.
  EXPECT_TRUE(testing::read_file(notice.moved_to) == original);
  EXPECT_EQ(store.stats().depth, 0u);
  EXPECT_EQ(commit(store, messages(2)), (std::vector<std::uint64_t>{1, 2}));
  auto p = store.pragmas();
  ASSERT_TRUE(p);
  EXPECT_EQ(p.value().journal_mode, "wal");
}

TEST(OutboxStore, QuarantinesATruncatedDatabaseAndContinuesAboveItsLastSeq) {
  TempDir dir;
  const auto c = queue_config(dir);
  fs::copy_file(fixture("queue-v1-truncated.db"), c.path);
  const std::string original = testing::read_file(c.path);

  auto store = open_store(c);
  ASSERT_TRUE(store.stats().quarantine);
  EXPECT_EQ(store.stats().quarantine->seq_floor, 200u);
  EXPECT_TRUE(testing::read_file(store.stats().quarantine->moved_to) == original);
  EXPECT_EQ(store.stats().last_seq, 200u);
  EXPECT_EQ(commit(store, messages(1)), (std::vector<std::uint64_t>{201}));

  // The fresh queue is an ordinary queue from now on: no second quarantine on reopen.
  store = open_store(c);
  EXPECT_FALSE(store.stats().quarantine);
  EXPECT_EQ(commit(store, messages(1)), (std::vector<std::uint64_t>{202}));
}

TEST(OutboxStore, RecordsWhatACorruptQueueHeldInTheGapLedger) {
  for (const char* name : {"queue-garbage.db", "queue-v1-truncated.db"}) {
    TempDir dir;
    const auto c = queue_config(dir);
    fs::copy_file(fixture(name), c.path);
    auto store = open_store(c);
    ASSERT_TRUE(store.stats().quarantine) << name;
    const auto ledger = store.gap_ledger();
    ASSERT_EQ(ledger.size(), 1u) << name;
    EXPECT_EQ(ledger[0].reason, DropReason::corrupt_queue);
    EXPECT_EQ(ledger[0].source, "") << "every source of the old file";
    std::cout << name << ": " << ledger[0].messages << " messages, " << ledger[0].count
              << " readings could be counted\n";
    // Reported like every other drop.
    auto seqs = store.report_gaps();
    ASSERT_TRUE(seqs);
    ASSERT_EQ(seqs.value().size(), 1u);
    EXPECT_GT(seqs.value()[0], store.stats().quarantine->seq_floor);
  }
}

TEST(OutboxStore, ContinuesAboveItsSeqMarkWhenNothingOfTheOldQueueCanBeRead) {
  TempDir dir;
  const auto c = queue_config(dir);
  {
    auto store = open_store(c);
    (void)commit(store, messages(150));
  }
  ASSERT_TRUE(fs::exists(OutboxStore::seq_mark_path(c.path)));
  // Destroy the database beyond repair (its side file survives).
  testing::write_file(c.path, testing::read_file(fixture("queue-garbage.db")));

  auto store = open_store(c);
  ASSERT_TRUE(store.stats().quarantine);
  EXPECT_GE(store.stats().quarantine->seq_floor, 150u);
  const auto seqs = commit(store, messages(1));
  EXPECT_GT(seqs.front(), 150u);
  EXPECT_LE(seqs.front(), 150u + OutboxStore::kSeqMarkHeadroom + 1);
}

TEST(OutboxStore, MovesTheWalAndShmAsideWithTheCorruptDatabase) {
  TempDir dir;
  const auto c = queue_config(dir);
  fs::copy_file(fixture("queue-garbage.db"), c.path);
  testing::write_file(fs::path(c.path.string() + "-wal"), "not a wal");
  testing::write_file(fs::path(c.path.string() + "-shm"), "not a shm");
  auto store = open_store(c);
  ASSERT_TRUE(store.stats().quarantine);
  const auto moved = store.stats().quarantine->moved_to;
  EXPECT_TRUE(testing::read_file(fs::path(moved.string() + "-wal")) == "not a wal");
  // The -shm is only SQLite's shared-memory index (rebuilt from the WAL); it moves along so the
  // three files stay together, but its content is not evidence.
  EXPECT_TRUE(fs::exists(fs::path(moved.string() + "-shm")));
  EXPECT_FALSE(fs::exists(fs::path(c.path.string() + "-wal")) &&
               testing::read_file(fs::path(c.path.string() + "-wal")) == "not a wal");
}

TEST(OutboxStore, RefusesAQueueFromANewerSchemaWithoutQuarantiningIt) {
  TempDir dir;
  const auto c = queue_config(dir);
  fs::copy_file(fixture("queue-v99.db"), c.path);
  auto r = OutboxStore::open(c);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("schema version 99"), std::string::npos) << r.error().describe();
  EXPECT_TRUE(fs::exists(c.path));
  for (const auto& entry : fs::directory_iterator(dir.path()))
    EXPECT_EQ(entry.path().filename().string().find("corrupt"), std::string::npos) << entry.path();
}

TEST(OutboxStore, WritesItsSeqMarkOncePerHeadroomNotOncePerCommit) {
  TempDir dir;
  const auto c = queue_config(dir);
  auto store = open_store(c);
  const auto mark_path = OutboxStore::seq_mark_path(c.path);
  EXPECT_FALSE(fs::exists(mark_path));
  (void)commit(store, messages(1));
  const std::string first = testing::read_file(mark_path);
  EXPECT_EQ(first, std::to_string(1 + OutboxStore::kSeqMarkHeadroom) + "\n");
  const auto written_at = fs::last_write_time(mark_path);
  for (int i = 0; i < 20; ++i) (void)commit(store, messages(5));
  EXPECT_EQ(testing::read_file(mark_path), first);
  EXPECT_EQ(fs::last_write_time(mark_path), written_at);
}

TEST(OutboxStore, ANewDatabaseBesideAnExistingSeqMarkStartsAboveTheMark) {
  TempDir dir;
  const auto c = queue_config(dir);
  testing::write_file(OutboxStore::seq_mark_path(c.path), "5000\n");
  auto store = open_store(c);
  EXPECT_EQ(commit(store, messages(1)), (std::vector<std::uint64_t>{5001}));
}

TEST(OutboxStore, ReportsTheSqliteCodeAndPathWhenTheQueueCannotBeCreated) {
  TempDir dir;
  config::QueueConfig c = queue_config(dir);
  testing::write_file(dir / "file", "x");
  c.path = dir / "file" / "queue.db";  // a directory that can never exist
  auto r = OutboxStore::open(c);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().describe().find(c.path.string()), std::string::npos) << r.error().describe();
}

}  // namespace
}  // namespace guardian::gateway
