// The queue's bounds against real SQLite files: max_bytes with drop_oldest and reject_new,
// priorities, per-source quotas, max_age, and the gap ledger that reports every drop.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "guardian/gateway/gap_report.hpp"
#include "guardian/gateway/outbox_store.hpp"
#include "guardian/gateway/send_claims.hpp"
#include "guardian/testing/environment.hpp"
#include "queue_test_support.hpp"

namespace guardian::gateway {
namespace {

using test::open_store;
using test::queue_config;
using test::telemetry_message;
using testing::TempDir;

std::vector<std::uint64_t> commit(OutboxStore& store, std::vector<PendingMessage> batch,
                                  std::vector<DroppedData> dropped = {}) {
  auto r = store.commit_batch(batch, dropped);
  if (!r) ADD_FAILURE() << r.error().describe();
  return r ? std::move(r).value() : std::vector<std::uint64_t>{};
}

PendingMessage message(const std::string& source, Priority priority, std::int64_t base_ms,
                       std::uint32_t readings = 4) {
  auto m = telemetry_message(source, readings, base_ms);
  m.priority = priority;
  if (priority == Priority::record) m.kind = MessageKind::record;
  return m;
}

std::vector<StoredMessage> all(OutboxStore& store) {
  auto r = store.fetch_after(0, 1'000'000);
  EXPECT_TRUE(r) << r.error().describe();
  return r ? std::move(r).value() : std::vector<StoredMessage>{};
}

std::map<std::pair<std::string, DropReason>, DroppedData> ledger(const OutboxStore& store) {
  std::map<std::pair<std::string, DropReason>, DroppedData> out;
  for (auto& d : store.gap_ledger()) out[{d.source, d.reason}] = d;
  return out;
}

constexpr std::int64_t kT0 = 1'795'680'000'000;

// A queue bounded at `n` messages the size of message("x", …).
config::QueueConfig bounded(const TempDir& dir, std::size_t n,
                            config::FullPolicy policy = config::FullPolicy::drop_oldest) {
  auto c = queue_config(dir);
  c.max_bytes = n * message("meter-1", Priority::routine, kT0).body.size();
  c.when_full = policy;
  return c;
}

TEST(OutboxBounds, DropsTheOldestMessagesWhenFullAndRecordsWhatItDropped) {
  TempDir dir;
  auto store = open_store(bounded(dir, 10));
  std::vector<std::uint64_t> seqs;
  for (int i = 0; i < 15; ++i) {
    const auto s = commit(store, {message("meter-1", Priority::routine, kT0 + i * 1000)});
    ASSERT_EQ(s.size(), 1u) << "drop_oldest accepts the newest";
    seqs.push_back(s[0]);
  }
  std::vector<std::uint64_t> kept;
  for (const auto& m : all(store)) kept.push_back(m.seq);
  EXPECT_EQ(kept, std::vector<std::uint64_t>(seqs.begin() + 5, seqs.end()));
  EXPECT_LE(store.stats().bytes, bounded(dir, 10).max_bytes);

  const auto l = ledger(store);
  ASSERT_EQ(l.size(), 1u);
  const auto& d = l.at({"meter-1", DropReason::queue_full});
  EXPECT_EQ(d.messages, 5u);
  EXPECT_EQ(d.count, 5u * 4);
  EXPECT_EQ(d.from, Timestamp{std::chrono::milliseconds{kT0}});
  EXPECT_EQ(d.to, Timestamp{std::chrono::milliseconds{kT0 + 4000 + 3}});
  EXPECT_EQ(d.names, (std::vector<std::string>{"point_0", "point_1", "point_2", "point_3"}));
  EXPECT_EQ(store.stats().dropped[static_cast<std::size_t>(DropReason::queue_full)], 20u);
  EXPECT_EQ(store.stats().gaps_pending, 1u);
}

TEST(OutboxBounds, RoutineTelemetryGoesBeforeRecordsAndRecordsBeforeAlarms) {
  TempDir dir;
  auto store = open_store(bounded(dir, 6));
  const auto alarm = commit(store, {message("a", Priority::alarm, kT0)});
  const auto record = commit(store, {message("a", Priority::record, kT0 + 1)});
  std::vector<std::uint64_t> routine;
  for (int i = 0; i < 4; ++i)
    routine.push_back(commit(store, {message("a", Priority::routine, kT0 + 2 + i)}).at(0));
  // Full. Four more alarms: the four routine messages go, oldest first; records and alarms stay.
  for (int i = 0; i < 4; ++i) commit(store, {message("a", Priority::alarm, kT0 + 10 + i)});
  std::set<std::uint64_t> kept;
  for (const auto& m : all(store)) kept.insert(m.seq);
  for (auto s : routine) EXPECT_FALSE(kept.contains(s)) << s;
  EXPECT_TRUE(kept.contains(record[0]));
  EXPECT_TRUE(kept.contains(alarm[0]));
  // One more alarm: now the record goes, not an alarm.
  commit(store, {message("a", Priority::alarm, kT0 + 20)});
  kept.clear();
  for (const auto& m : all(store)) kept.insert(m.seq);
  EXPECT_FALSE(kept.contains(record[0]));
  EXPECT_TRUE(kept.contains(alarm[0]));
  // A routine message cannot push out alarms: it is the one refused.
  EXPECT_TRUE(commit(store, {message("a", Priority::routine, kT0 + 30)}).empty());
  EXPECT_EQ(all(store).size(), 6u);
}

TEST(OutboxBounds, RejectNewKeepsWhatIsStoredAndRefusesTheNewcomer) {
  TempDir dir;
  auto store = open_store(bounded(dir, 5, config::FullPolicy::reject_new));
  std::vector<std::uint64_t> first;
  for (int i = 0; i < 5; ++i)
    first.push_back(commit(store, {message("meter-1", Priority::routine, kT0 + i)}).at(0));
  EXPECT_TRUE(commit(store, {message("meter-1", Priority::routine, kT0 + 100)}).empty());
  EXPECT_TRUE(commit(store, {message("meter-1", Priority::routine, kT0 + 101)}).empty());
  std::vector<std::uint64_t> kept;
  for (const auto& m : all(store)) kept.push_back(m.seq);
  EXPECT_EQ(kept, first);
  const auto l = ledger(store);
  const auto& d = l.at({"meter-1", DropReason::queue_full});
  EXPECT_EQ(d.messages, 0u) << "never accepted";
  EXPECT_EQ(d.count, 8u);
  EXPECT_EQ(d.from, Timestamp{std::chrono::milliseconds{kT0 + 100}});
  // Priorities still apply: an alarm makes room by dropping the newest routine message.
  const auto alarm = commit(store, {message("meter-1", Priority::alarm, kT0 + 200)});
  ASSERT_EQ(alarm.size(), 1u);
  kept.clear();
  for (const auto& m : all(store)) kept.push_back(m.seq);
  EXPECT_EQ(kept, (std::vector<std::uint64_t>{first[0], first[1], first[2], first[3], alarm[0]}));
}

TEST(OutboxBounds, AChattySourceLosesItsOwnDataNotTheOthers) {
  TempDir dir;
  auto store = open_store(bounded(dir, 10));
  const auto quiet = commit(store, {message("quiet", Priority::routine, kT0),
                                    message("quiet", Priority::routine, kT0 + 1)});
  for (int i = 0; i < 50; ++i) commit(store, {message("chatty", Priority::routine, kT0 + 10 + i)});
  std::set<std::uint64_t> kept;
  for (const auto& m : all(store)) kept.insert(m.seq);
  EXPECT_TRUE(kept.contains(quiet[0]) && kept.contains(quiet[1]))
      << "the quiet source's older data must outlive the chatty source's";
  const auto l = ledger(store);
  EXPECT_FALSE(l.contains({"quiet", DropReason::queue_full}));
  EXPECT_EQ(l.at({"chatty", DropReason::queue_full}).messages, 42u);
  EXPECT_EQ(store.stats().sources.at("quiet").messages, 2u);
}

TEST(OutboxBounds, ASourceQuotaBindsBeforeTheQueueIsFull) {
  TempDir dir;
  auto c = bounded(dir, 10);
  c.source_quota_percent = 30;  // 3 messages' worth
  auto store = open_store(c);
  for (int i = 0; i < 6; ++i) commit(store, {message("chatty", Priority::routine, kT0 + i)});
  EXPECT_EQ(store.stats().sources.at("chatty").messages, 3u);
  const auto l = ledger(store);
  EXPECT_EQ(l.at({"chatty", DropReason::source_quota}).messages, 3u);
  EXPECT_EQ(commit(store, {message("other", Priority::routine, kT0)}).size(), 1u);
  EXPECT_EQ(store.stats().depth, 4u);
}

TEST(OutboxBounds, ExpireDropsWhatIsOlderThanTheCutoffAndRecordsIt) {
  TempDir dir;
  auto store = open_store(queue_config(dir));
  commit(store, {message("meter-1", Priority::routine, kT0),
                 message("meter-1", Priority::alarm, kT0 + 1)});
  const Timestamp cutoff = now_ms() + std::chrono::seconds{1};
  auto expired = store.expire(cutoff);
  ASSERT_TRUE(expired) << expired.error().describe();
  EXPECT_EQ(expired.value(), 2u) << "max_age applies to every priority";
  EXPECT_EQ(store.stats().depth, 0u);
  EXPECT_FALSE(store.stats().oldest_created);
  const auto l = ledger(store);
  EXPECT_EQ(l.at({"meter-1", DropReason::max_age}).messages, 2u);
  EXPECT_EQ(l.at({"meter-1", DropReason::max_age}).count, 8u);
  // Nothing younger than the cutoff goes.
  commit(store, {message("meter-1", Priority::routine, kT0)});
  EXPECT_EQ(store.expire(now_ms() - std::chrono::hours{1}).value(), 0u);
  EXPECT_EQ(store.stats().depth, 1u);
}

// A store's claims, as the Outbox shares them; and `n` routine messages committed one by one.
std::shared_ptr<SendClaims> shared_claims(OutboxStore& store) {
  auto claims = std::make_shared<SendClaims>();
  store.share_claims(claims);
  return claims;
}

std::vector<std::uint64_t> fill(OutboxStore& store, int n) {
  std::vector<std::uint64_t> seqs;
  for (int i = 0; i < n; ++i)
    seqs.push_back(commit(store, {message("meter-1", Priority::routine, kT0 + i)}).at(0));
  return seqs;
}

// The uplink's side is played here by hand, through the same SendClaims the Outbox shares.
TEST(OutboxBounds, AMessageOnItsWayIsNeverDroppedAndADroppedOneIsNeverSent) {
  using Verdict = SendClaims::Verdict;
  TempDir dir;
  auto store = open_store(bounded(dir, 10));
  const auto claims = shared_claims(store);
  const auto s = fill(store, 10);

  // The uplink fetches four and publishes two of them; two wait in its memory.
  auto fetched = store.fetch_after(0, 4);
  ASSERT_TRUE(fetched) << fetched.error().describe();
  ASSERT_EQ(fetched.value().size(), 4u);
  EXPECT_EQ(claims->start_sending(s[0]), Verdict::send);
  EXPECT_EQ(claims->start_sending(s[1]), Verdict::send);

  // Three more: the two sent stay; the two only fetched and the next one go.
  for (int i = 0; i < 3; ++i) commit(store, {message("meter-1", Priority::routine, kT0 + 10 + i)});
  std::set<std::uint64_t> kept;
  for (const auto& m : all(store)) {
    kept.insert(m.seq);
    claims->release(m.seq);  // a look, not the uplink's: nothing stays held
  }
  EXPECT_TRUE(kept.contains(s[0]) && kept.contains(s[1])) << "a sent message was dropped";
  EXPECT_FALSE(kept.contains(s[2]) || kept.contains(s[3]) || kept.contains(s[4]));
  EXPECT_EQ(kept.size(), 10u);
  EXPECT_EQ(ledger(store).at({"meter-1", DropReason::queue_full}).messages, 3u);
  // The uplink must not send what a gap now reports.
  EXPECT_EQ(claims->start_sending(s[2]), Verdict::skip);
  EXPECT_EQ(claims->start_sending(s[3]), Verdict::skip);
  for (std::size_t i = 0; i < 4; ++i) claims->release(s[i]);
  EXPECT_EQ(claims->size(), 2u) << "only the two sent remain";
  EXPECT_EQ(claims->sent(), 2u);

  // max_age passes a sent message over too.
  auto expired = store.expire(now_ms() + std::chrono::seconds{1});
  ASSERT_TRUE(expired) << expired.error().describe();
  EXPECT_EQ(expired.value(), 8u);
  EXPECT_EQ(store.stats().depth, 2u);

  // Delivered and deleted: forgotten.
  ASSERT_TRUE(store.remove(std::vector<std::uint64_t>{s[0], s[1]}));
  EXPECT_EQ(claims->size(), 0u);
  EXPECT_EQ(claims->sent(), 0u);
}

TEST(OutboxBounds, WhenEverythingStoredIsOnItsWayTheIncomingMessageIsRefused) {
  TempDir dir;
  auto store = open_store(bounded(dir, 5));
  const auto claims = shared_claims(store);
  const auto s = fill(store, 5);
  ASSERT_EQ(store.fetch_after(0, 100).value().size(), 5u);
  for (const auto seq : s) ASSERT_EQ(claims->start_sending(seq), SendClaims::Verdict::send);
  // drop_oldest has nothing it may drop: the newcomer is refused and reported, the bound holds.
  EXPECT_TRUE(commit(store, {message("meter-1", Priority::routine, kT0 + 10)}).empty());
  EXPECT_EQ(store.stats().depth, 5u);
  EXPECT_LE(store.stats().bytes, bounded(dir, 5).max_bytes);
  EXPECT_EQ(ledger(store).at({"meter-1", DropReason::queue_full}).messages, 0u)
      << "refused, not dropped after acceptance";
  EXPECT_EQ(ledger(store).at({"meter-1", DropReason::queue_full}).count, 4u);
  // A newcomer from another source is refused too: all that is stored is on its way.
  const auto other = commit(store, {message("meter-2", Priority::routine, kT0 + 20)});
  EXPECT_TRUE(other.empty());
  // Once one is delivered, there is room again.
  ASSERT_TRUE(store.remove(std::vector<std::uint64_t>{s[0]}));
  EXPECT_EQ(commit(store, {message("meter-1", Priority::routine, kT0 + 30)}).size(), 1u);
}

TEST(SendClaims, AMessageBeingDroppedWaitsForTheTransactionAndComesBackIfItRollsBack) {
  using Verdict = SendClaims::Verdict;
  SendClaims claims;
  const std::vector<std::uint64_t> seqs{7, 8};
  claims.hold(seqs);
  ASSERT_TRUE(claims.claim_for_drop(7));
  EXPECT_EQ(claims.start_sending(7), Verdict::wait) << "the drop is not committed yet";
  claims.settle_drops(std::vector<std::uint64_t>{7}, /*committed=*/false);
  EXPECT_EQ(claims.start_sending(7), Verdict::send) << "rolled back: still there, so sent";
  EXPECT_FALSE(claims.claim_for_drop(7)) << "sent: never dropped";
  ASSERT_TRUE(claims.claim_for_drop(8));
  claims.settle_drops(std::vector<std::uint64_t>{8}, /*committed=*/true);
  EXPECT_EQ(claims.start_sending(8), Verdict::skip);
  claims.release(seqs);
  EXPECT_EQ(claims.size(), 1u);
  EXPECT_EQ(claims.start_sending(99), Verdict::skip) << "never held: not in the queue";
}

TEST(OutboxBounds, ReportGapsTurnsTheLedgerIntoOneGapMessagePerSourceAndReason) {
  TempDir dir;
  auto store = open_store(bounded(dir, 4));
  DroppedData refused;
  refused.source = "meter-2";
  refused.reason = DropReason::backpressure;
  refused.count = 7;
  refused.from = Timestamp{std::chrono::milliseconds{kT0}};
  refused.to = Timestamp{std::chrono::milliseconds{kT0 + 5}};
  refused.names = {"p"};
  for (int i = 0; i < 8; ++i)
    commit(store, {message("meter-1", Priority::routine, kT0 + i)},
           i == 0 ? std::vector{refused} : std::vector<DroppedData>{});
  ASSERT_EQ(store.gap_ledger().size(), 2u);
  auto seqs = store.report_gaps();
  ASSERT_TRUE(seqs) << seqs.error().describe();
  ASSERT_EQ(seqs.value().size(), 2u);
  // Gap messages outrank telemetry: in this full queue they displace routine messages, which are
  // recorded in turn, for the next report.
  for (const auto& d : store.gap_ledger()) {
    EXPECT_EQ(d.reason, DropReason::queue_full);
    EXPECT_EQ(d.source, "meter-1");
  }
  EXPECT_EQ(store.stats().gaps_pending, store.gap_ledger().size());
  std::map<std::string, DroppedData> gaps;
  for (const auto& m : all(store)) {
    if (m.kind != MessageKind::gap) continue;
    EXPECT_EQ(m.priority, Priority::gap);
    auto d = decode_gap(m.body);
    ASSERT_TRUE(d) << m.body;
    gaps[std::string(to_string(d->reason))] = *d;
  }
  ASSERT_EQ(gaps.size(), 2u);
  EXPECT_EQ(gaps.at("backpressure").count, 7u);
  EXPECT_EQ(gaps.at("backpressure").source, "meter-2");
  EXPECT_EQ(gaps.at("queue_full").source, "meter-1");
  EXPECT_EQ(gaps.at("queue_full").messages, 4u);
  EXPECT_EQ(gaps.at("queue_full").count, 16u);
}

TEST(OutboxBounds, ReportingAnEmptyLedgerCommitsNothing) {
  TempDir dir;
  auto store = open_store(queue_config(dir));
  commit(store, {message("meter-1", Priority::routine, kT0)});
  const auto last = store.stats().last_seq;
  EXPECT_TRUE(store.report_gaps().value().empty());
  EXPECT_EQ(store.stats().last_seq, last);
}

TEST(OutboxBounds, TheGapLedgerAndTheUsageSurviveAReopen) {
  TempDir dir;
  const auto c = bounded(dir, 5);
  QueueStats before;
  std::vector<DroppedData> before_ledger;
  {
    auto store = open_store(c);
    for (int i = 0; i < 9; ++i)
      commit(store, {message(i % 3 == 0 ? "a" : "b", Priority::routine, kT0 + i)});
    before = store.stats();
    before_ledger = store.gap_ledger();
  }
  auto store = open_store(c);
  EXPECT_EQ(store.stats().bytes, before.bytes);
  EXPECT_EQ(store.stats().depth, before.depth);
  ASSERT_EQ(store.stats().sources.size(), before.sources.size());
  for (const auto& [source, usage] : before.sources) {
    EXPECT_EQ(store.stats().sources.at(source).bytes, usage.bytes) << source;
    EXPECT_EQ(store.stats().sources.at(source).messages, usage.messages) << source;
  }
  const auto after_ledger = store.gap_ledger();
  ASSERT_EQ(after_ledger.size(), before_ledger.size());
  for (std::size_t i = 0; i < after_ledger.size(); ++i) {
    EXPECT_EQ(after_ledger[i].count, before_ledger[i].count);
    EXPECT_EQ(after_ledger[i].messages, before_ledger[i].messages);
    EXPECT_EQ(after_ledger[i].names, before_ledger[i].names);
  }
}

TEST(OutboxBounds, AGapMessageThatMustGoIsFoldedIntoTheNextOneWithoutLosingItsCounts) {
  TempDir dir;
  // Room for about two gap messages and nothing else once they are in.
  auto c = queue_config(dir);
  c.max_bytes =
      2 * encode_gap(DroppedData{"meter-1", DropReason::queue_full, 1, 1, {}, {}, {}}).body.size() +
      40;
  auto store = open_store(c);
  std::uint64_t reported = 0;
  for (int round = 0; round < 5; ++round) {
    DroppedData d;
    d.source = "meter-" + std::to_string(round);
    d.reason = DropReason::backpressure;
    d.count = 10;
    d.from = d.to = Timestamp{std::chrono::milliseconds{kT0 + round}};
    commit(store, {}, {d});
    reported += 10;
    ASSERT_TRUE(store.report_gaps());
  }
  std::uint64_t total = 0;
  for (const auto& m : all(store)) total += decode_gap(m.body).value().count;
  for (const auto& d : store.gap_ledger()) total += d.count;
  EXPECT_EQ(total, reported) << "dropping a gap message must fold its counts, not lose them";
  EXPECT_LE(store.stats().bytes, c.max_bytes);
}

TEST(OutboxBounds, AMessageLargerThanTheWholeQueueIsRefusedAndReported) {
  TempDir dir;
  auto store = open_store(bounded(dir, 2));
  EXPECT_TRUE(commit(store, {message("meter-1", Priority::alarm, kT0, /*readings=*/40)}).empty());
  EXPECT_EQ(ledger(store).at({"meter-1", DropReason::queue_full}).count, 40u);
}

TEST(OutboxBounds, EdgeStateIsKeptAcrossReopens) {
  TempDir dir;
  const auto c = queue_config(dir);
  {
    auto store = open_store(c);
    ASSERT_TRUE(store.save_state({{"counters/a/p", "1 2 3"}, {"counters/b/q", "4 5 6"}}));
    ASSERT_TRUE(store.save_state({{"counters/a/p", "7 8 9"}}));
  }
  auto store = open_store(c);
  auto state = store.load_state();
  ASSERT_TRUE(state);
  EXPECT_EQ(state.value(), (std::map<std::string, std::string>{{"counters/a/p", "7 8 9"},
                                                               {"counters/b/q", "4 5 6"}}));
}

}  // namespace
}  // namespace guardian::gateway
