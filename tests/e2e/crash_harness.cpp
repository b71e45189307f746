#include "crash_harness.hpp"

#include <sqlite3.h>

#include <random>
#include <sstream>
#include <thread>

#include "e2e_common.hpp"
#include "gateway_process.hpp"
#include "guardian/testing/mosquitto.hpp"
#include "guardian/testing/pymodbus.hpp"

namespace guardian::testing {
namespace {

using namespace std::chrono_literals;

constexpr const char* kDevice = "crash-01";

// The queue as the killed gateway left it: the last seq accepted, and the seqs still queued
// (their acknowledgement, if any arrived, was not yet recorded).
struct QueueState {
  std::uint64_t last_seq = 0;
  std::set<std::uint64_t> queued;
};

QueueState read_queue(const std::filesystem::path& path) {
  QueueState state;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return state;
  }
  sqlite3_busy_timeout(db, 5000);
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT seq FROM sqlite_sequence WHERE name = 'outbox'", -1, &stmt,
                         nullptr) == SQLITE_OK &&
      sqlite3_step(stmt) == SQLITE_ROW)
    state.last_seq = static_cast<std::uint64_t>(sqlite3_column_int64(stmt, 0));
  sqlite3_finalize(stmt);
  if (sqlite3_prepare_v2(db, "SELECT seq FROM outbox", -1, &stmt, nullptr) == SQLITE_OK)
    while (sqlite3_step(stmt) == SQLITE_ROW)
      state.queued.insert(static_cast<std::uint64_t>(sqlite3_column_int64(stmt, 0)));
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return state;
}

bool quarantined(const GatewayProcess& gw) {
  try {
    return gw.status().at("queue").contains("quarantine");
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

std::string CrashReport::summary() const {
  std::ostringstream out;
  out << (passed() ? "PASS" : "FAIL") << ": " << kills << " SIGKILLs (seed " << seed << ") in "
      << static_cast<int>(seconds) << " s; " << last_seq << " messages accepted, " << delivered
      << " delivered, " << missing.size() << " lost; " << duplicated << " duplicated ("
      << bad_duplicates.size() << " of acknowledged messages, " << mismatched
      << " with a different payload); " << kills_with_unacked
      << " kills left unacknowledged messages; " << quarantines << " quarantines";
  if (!failure.empty()) out << "; " << failure;
  return out.str();
}

CrashReport run_crash_harness(const CrashOptions& options) {
  CrashReport report;
  const auto started = std::chrono::steady_clock::now();
  report.seed = options.seed != 0 ? options.seed : std::random_device{}();
  std::mt19937_64 rng(report.seed);
  std::uniform_int_distribution<int> uptime(options.min_uptime_ms, options.max_uptime_ms);

  TempDir dir("guardian-crash");
  MosquittoBroker broker;
  MqttCollector collector(broker.uri(), std::string("guardian/v1/") + kDevice + "/#",
                          "crash-ledger");
  PymodbusServer modbus(counter_registers());
  GatewayProcess gw(dir, kDevice, broker.uri(), fast_adapter(modbus.port(), "10ms"),
                    "  max_inflight: 50\n");
  std::set<std::uint64_t> unacknowledged_at_a_kill;

  try {
    for (int kill = 1; kill <= options.kills; ++kill) {
      gw.start();
      if (quarantined(gw)) ++report.quarantines;
      // The random moment is the point of the exercise, not a synchronisation.
      std::this_thread::sleep_for(std::chrono::milliseconds(uptime(rng)));
      gw.kill();
      ++report.kills;
      const QueueState state = read_queue(gw.queue_path());
      report.last_seq = std::max(report.last_seq, state.last_seq);
      if (!state.queued.empty()) ++report.kills_with_unacked;
      unacknowledged_at_a_kill.insert(state.queued.begin(), state.queued.end());
      if (options.progress)
        options.progress("kill " + std::to_string(kill) + ": last seq " +
                         std::to_string(state.last_seq) + ", " +
                         std::to_string(state.queued.size()) + " unacknowledged");
    }

    // Production stops; the last start must deliver everything.
    modbus.kill();
    gw.start();
    if (quarantined(gw)) ++report.quarantines;
    if (!wait_until([&] { return gw.status().at("queue").at("depth") == 0; }, 180s))
      report.failure = "the queue did not drain after the last restart";
    report.last_seq =
        std::max(report.last_seq, gw.status().at("queue").at("last_seq").get<std::uint64_t>());
    const std::uint64_t last = report.last_seq;
    if (!collector.wait_for([&](const auto& all) { return SeqLedger(all).has_all(last); }, 120s) &&
        report.failure.empty())
      report.failure = "not every accepted message arrived within 120 s";
    gw.stop();
  } catch (const std::exception& e) {
    report.failure = std::string("harness step failed: ") + e.what() + "\n" + gw.log();
  }

  const SeqLedger ledger(collector.messages());
  report.missing = ledger.missing(report.last_seq);
  report.delivered = static_cast<std::uint64_t>(std::distance(
      ledger.first_payload.begin(), ledger.first_payload.upper_bound(report.last_seq)));
  report.mismatched = ledger.mismatched.size();
  for (const auto seq : ledger.duplicated()) {
    ++report.duplicated;
    if (!unacknowledged_at_a_kill.contains(seq)) report.bad_duplicates.push_back(seq);
  }
  report.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return report;
}

}  // namespace guardian::testing
