// bench_queue_ingest: durable ingest rate of the Outbox (group commit, synchronous=FULL by
// default) against a raw batched SQLite insert of the same bytes, same disk, same run.
//   bench_queue_ingest [--messages 20000] [--readings 50] [--dir /var/tmp] [--sync full|normal]
//                      [--rounds 5]
// See bench/README.md.
#include <sqlite3.h>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include <boost/asio/io_context.hpp>

#include "bench_support.hpp"
#include "guardian/gateway/outbox.hpp"

namespace {

using namespace guardian;
using Clock = std::chrono::steady_clock;

// The Outbox as the pipeline uses it: submit() on the io_context thread until back-pressure
// refuses, then let commits complete; done when every message is committed (accepted).
std::map<std::string, double> ingest_with_outbox(
    const config::QueueConfig& queue, const std::vector<gateway::PendingMessage>& samples,
    std::size_t count) {
  auto store = gateway::OutboxStore::open(queue);
  if (!store) {
    std::fprintf(stderr, "%s\n", store.error().describe().c_str());
    std::exit(1);
  }
  boost::asio::io_context io;
  auto guard = boost::asio::make_work_guard(io);
  gateway::Outbox outbox(io, std::move(store).value(), queue);
  const auto start = Clock::now();
  std::size_t submitted = 0;
  while (submitted < count) {
    if (outbox.submit(samples[submitted % samples.size()]))
      ++submitted;
    else
      io.run_one();  // back-pressure: wait for a commit to complete
  }
  while (outbox.counters().committed < count) io.run_one();
  const double seconds = bench::seconds_since(start);
  return {{"seconds", seconds},
          {"commits", static_cast<double>(outbox.counters().commits)},
          {"rejected", static_cast<double>(outbox.counters().rejected)}};
}

void check(int rc, sqlite3* db, const char* what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE) {
    std::fprintf(stderr, "%s: %s\n", what, sqlite3_errmsg(db));
    std::exit(1);
  }
}

// The floor: one connection, one prepared insert of the body bytes, `batch` rows per transaction,
// same journal mode and synchronous level, nothing else.
std::map<std::string, double> ingest_raw(const std::filesystem::path& path, bool full,
                                         const std::vector<gateway::PendingMessage>& samples,
                                         std::size_t count, std::size_t batch) {
  sqlite3* db = nullptr;
  check(sqlite3_open(path.c_str(), &db), db, "open");
  check(sqlite3_exec(db, "PRAGMA journal_mode=WAL", nullptr, nullptr, nullptr), db, "wal");
  check(sqlite3_exec(db, full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL", nullptr,
                     nullptr, nullptr),
        db, "synchronous");
  check(sqlite3_exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, body BLOB NOT NULL)", nullptr,
                     nullptr, nullptr),
        db, "create");
  sqlite3_stmt* insert = nullptr;
  check(sqlite3_prepare_v2(db, "INSERT INTO t(body) VALUES(?1)", -1, &insert, nullptr), db,
        "prepare");
  const auto start = Clock::now();
  std::size_t done = 0;
  while (done < count) {
    check(sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr), db, "begin");
    for (std::size_t i = 0; i < batch && done < count; ++i, ++done) {
      const auto& body = samples[done % samples.size()].body;
      sqlite3_bind_blob(insert, 1, body.data(), static_cast<int>(body.size()), SQLITE_STATIC);
      check(sqlite3_step(insert), db, "insert");
      sqlite3_reset(insert);
    }
    check(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), db, "commit");
  }
  const double seconds = bench::seconds_since(start);
  sqlite3_finalize(insert);
  sqlite3_close(db);
  return {{"seconds", seconds}};
}

void print_row(const char* name, const bench::PartReport& r, std::size_t messages,
               std::uint32_t readings, double bytes) {
  const double s = r.values.at("seconds");
  std::printf(
      "%-22s %8.3f s %10.0f msg/s %12.0f readings/s %8.1f MiB/s   cpu %6.2f s   peak RSS %7.1f "
      "MiB\n",
      name, s, static_cast<double>(messages) / s, static_cast<double>(messages) * readings / s,
      bytes / s / (1 << 20), r.cpu_seconds, r.max_rss_mib);
}

}  // namespace

int run(int argc, char** argv) {
  const auto [messages, readings, rounds, scratch_base] = bench::common_options(argc, argv);
  const bool full = bench::option(argc, argv, "sync", "full") == "full";
  bench::ScratchDir dir(scratch_base);

  const auto samples = bench::telemetry_messages(16, readings);
  double bytes = 0;
  for (std::size_t i = 0; i < messages; ++i)
    bytes += static_cast<double>(samples[i % samples.size()].body.size());
  config::QueueConfig queue;
  queue.synchronous = full ? config::SyncMode::full : config::SyncMode::normal;

  std::printf(
      "bench_queue_ingest: %zu messages x %u readings (%.0f bytes/message), synchronous=%s, %s\n",
      messages, readings, bytes / static_cast<double>(messages), full ? "FULL" : "NORMAL",
      dir.path().c_str());
  // The raw insert uses the batch size the Outbox's group commit reached in its previous round.
  std::size_t batch = 500;
  int round = 0;
  auto [outbox, raw] = bench::median_of_alternating(
      rounds,
      [&] {
        std::filesystem::remove_all(dir.path() / "outbox");
        queue.path = dir.path() / "outbox" / ("round-" + std::to_string(++round) + ".db");
        auto r = bench::run_part([&] { return ingest_with_outbox(queue, samples, messages); });
        if (r.ok)
          batch = static_cast<std::size_t>(
              std::max(1.0, static_cast<double>(messages) / r.values.at("commits")));
        return r;
      },
      [&] {
        std::filesystem::remove(dir.path() / "raw.db");
        std::filesystem::remove(dir.path() / "raw.db-wal");
        std::filesystem::remove(dir.path() / "raw.db-shm");
        auto r = bench::run_part(
            [&] { return ingest_raw(dir.path() / "raw.db", full, samples, messages, batch); });
        r.values["batch"] = static_cast<double>(batch);
        return r;
      });
  const double commits = outbox.values.at("commits");

  print_row("Outbox (group commit)", outbox, messages, readings, bytes);
  print_row("raw SQLite insert", raw, messages, readings, bytes);
  std::printf(
      "median of %d alternating rounds; Outbox: %.0f commits (%.1f messages each; raw used"
      " %.0f per transaction), %.0f back-pressure refusals (re-submitted)\n",
      rounds, commits, static_cast<double>(messages) / commits, raw.values.at("batch"),
      outbox.values.at("rejected"));
  std::printf("ratio Outbox / raw (readings/s): %.2fx (target >= 0.80x)\n",
              raw.values.at("seconds") / outbox.values.at("seconds"));
  return 0;
}

int main(int argc, char** argv) {
  return bench::main_reporting_errors("bench_queue_ingest", run, argc, argv);
}
