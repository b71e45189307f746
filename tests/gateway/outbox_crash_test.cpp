// Durability under SIGKILL: a writer process reports every seq range commit_batch() accepted; it is
// killed at a random moment, and every reported seq must be in the queue when it is reopened.
#include <gtest/gtest.h>

#include <random>
#include <set>
#include <sstream>

#include "guardian/gateway/outbox_store.hpp"
#include "guardian/testing/environment.hpp"
#include "guardian/testing/process.hpp"
#include "queue_test_support.hpp"

namespace guardian::gateway {
namespace {

using namespace std::chrono_literals;
using testing::Process;
using testing::TempDir;

struct Reported {
  std::set<std::uint64_t> seqs;
  std::size_t lines = 0;
};

// Complete lines only: the writer may die in the middle of one.
Reported parse_accepted(const std::string& log) {
  Reported r;
  std::size_t start = 0;
  for (auto end = log.find('\n'); end != std::string::npos; end = log.find('\n', start)) {
    std::istringstream line(log.substr(start, end - start));
    start = end + 1;
    std::string word;
    std::uint64_t first = 0;
    std::uint64_t last = 0;
    if (line >> word >> first >> last && word == "accepted") {
      for (auto s = first; s <= last; ++s) r.seqs.insert(s);
      ++r.lines;
    }
  }
  return r;
}

TEST(OutboxStoreDurability, KeepsEveryReportedCommitWhenTheWriterIsKilledAtARandomMoment) {
  TempDir dir;
  const auto c = test::queue_config(dir);
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<std::size_t> commits_before_kill(1, 300);
  std::uint64_t previous_last = 0;

  for (int round = 0; round < 4; ++round) {
    const auto log_path = dir / ("writer-" + std::to_string(round) + ".log");
    const std::size_t target = commits_before_kill(rng);
    Process writer({{GUARDIAN_OUTBOX_CRASH_WRITER, c.path.string()}, {}, log_path, {}});
    ASSERT_TRUE(testing::wait_until(
        [&] { return parse_accepted(testing::read_file(log_path)).lines >= target; }, 30s))
        << testing::read_file(log_path);
    writer.kill_now();  // SIGKILL, mid-commit more often than not

    const auto reported = parse_accepted(testing::read_file(log_path));
    ASSERT_FALSE(reported.seqs.empty());
    EXPECT_GT(*reported.seqs.begin(), previous_last) << "seq went backwards across a crash";

    auto store = OutboxStore::open(c);
    ASSERT_TRUE(store) << store.error().describe();
    EXPECT_FALSE(store.value().stats().quarantine) << "a SIGKILL must not corrupt the queue";
    auto all = store.value().fetch_after(0, 10'000'000);
    ASSERT_TRUE(all);
    std::set<std::uint64_t> present;
    for (const auto& m : all.value()) present.insert(m.seq);
    std::size_t missing = 0;
    for (auto s : reported.seqs)
      if (!present.contains(s)) ++missing;
    EXPECT_EQ(missing, 0u) << "round " << round << ": " << missing << " of " << reported.seqs.size()
                           << " accepted seqs lost";
    EXPECT_GE(store.value().stats().last_seq, *reported.seqs.rbegin());
    previous_last = store.value().stats().last_seq;
  }
}

}  // namespace
}  // namespace guardian::gateway
