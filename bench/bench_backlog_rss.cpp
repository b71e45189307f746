// Memory with a backlog: the real `guardian run` daemon's peak RSS with an empty queue and with a
// queue holding a backlog of --backlog readings (one million by default), under the same load and
// for the same time; then the peak while that backlog drains to a broker, against the peak while
// a backlog ten times smaller drains (the drain holds a fixed fetch-ahead, whatever the backlog).
//
//   bench_backlog_rss [--backlog 1000000] [--per-message 50] [--seconds 15] [--dir /var/tmp]
//
// The load is one guardian-sim espresso machine polled every 100 ms. While the empty and the
// backlog runs are measured the broker is unreachable (as during the outage that built the
// backlog), so nothing drains and the queue only grows. Target: backlog peak within 10 % of the
// empty-queue peak (memory must not grow with the backlog).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <thread>

#include "bench_support.hpp"
#include "guardian/gateway/control_server.hpp"
#include "guardian/gateway/outbox_store.hpp"
#include "guardian/testing/environment.hpp"
#include "guardian/testing/mosquitto.hpp"
#include "guardian/testing/process.hpp"

using namespace guardian;
using namespace guardian::testing;
using namespace std::chrono_literals;

namespace {

struct Run {
  bench::ProcStats at_end;
  double seconds = 0;
  std::uint64_t depth = 0;
  std::uint64_t readings = 0;
};

std::string site_yaml(const std::filesystem::path& dir, const std::string& broker,
                      std::uint16_t sim_port) {
  return "device:\n  id: rss-01\nqueue:\n  path: " + (dir / "queue.db").string() +
         "\nuplink:\n  broker: " + broker + "\n  reconnect: {min: 200ms, max: 1s}\n" +
         "control:\n  socket: " + (dir / "control.sock").string() +
         "\nadapters:\n  - name: espresso-bus\n    type: modbus\n    host: 127.0.0.1\n    port: " +
         std::to_string(sim_port) +
         "\n    devices:\n      - name: espresso-1\n        unit_id: 1\n"
         "        poll_interval: 100ms\n        points:\n"
         "          - {name: boiler_temp, table: holding, address: 0, type: uint16}\n"
         "          - {name: steam_pressure, table: holding, address: 1, type: uint16}\n"
         "          - {name: pump_pressure, table: holding, address: 2, type: uint16}\n"
         "          - {name: state, table: holding, address: 3, type: uint16}\n";
}

// Runs the daemon on `dir` until `done` (or `seconds`), and returns its /proc figures at the end.
Run run_daemon(const std::filesystem::path& dir,
               const std::function<bool(const nlohmann::json&)>& done, std::chrono::seconds limit) {
  Process gw({{binary_path("guardian").string(), "run", "-c", (dir / "guardian.yaml").string(),
               "--log-level", "warn"},
              {},
              dir / "guardian.log",
              {}});
  const auto status = [&] {
    auto r = gateway::control_request(dir / "control.sock", {{"cmd", "status"}}, 5s);
    return r ? r.value().at("status") : nlohmann::json();
  };
  const auto t0 = std::chrono::steady_clock::now();
  if (!wait_until([&] { return !status().is_null(); }, 60s))
    throw std::runtime_error("guardian did not start:\n" + read_file(dir / "guardian.log"));
  wait_until(
      [&] {
        const auto s = status();
        return !s.is_null() && done(s);
      },
      limit, 100ms);
  Run run;
  run.at_end = bench::proc_stats(gw.pid());
  run.seconds = bench::seconds_since(t0);
  const auto s = status();
  if (!s.is_null()) {
    run.depth = s["queue"]["depth"].get<std::uint64_t>();
    run.readings = s["queue"]["readings"].get<std::uint64_t>();
  }
  gw.stop(20s);
  return run;
}

void print(const char* what, const Run& r) {
  std::printf(
      "  %-26s peak RSS %6.1f MiB, RSS at end %6.1f MiB, %6.1f s, queue %llu msgs / %llu "
      "readings\n",
      what, static_cast<double>(r.at_end.hwm_kib) / 1024.0,
      static_cast<double>(r.at_end.rss_kib) / 1024.0, r.seconds,
      static_cast<unsigned long long>(r.depth), static_cast<unsigned long long>(r.readings));
}

int run(int argc, char** argv) {
  CLI::App app{"Peak RSS of the daemon with an empty queue and with a large backlog"};
  std::uint64_t backlog = 1'000'000;
  std::uint32_t per_message = 50;
  int seconds = 15;
  std::string base = "/var/tmp";
  app.add_option("--backlog", backlog, "Readings queued before the start")->capture_default_str();
  app.add_option("--per-message", per_message, "Readings per queued message")
      ->capture_default_str();
  app.add_option("--seconds", seconds, "Length of the empty and the backlog runs")
      ->capture_default_str();
  app.add_option("--dir", base, "Scratch directory (on a disk)")->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  bench::ScratchDir scratch(base);
  const auto sim_port = free_tcp_port();
  Process sim({{binary_path("guardian-sim").string(), "modbus-tcp", "--port",
                std::to_string(sim_port), "--model", "espresso"},
               {},
               scratch.path() / "sim.log",
               {}});
  if (!wait_for_tcp_port(sim_port, 10s)) throw std::runtime_error("guardian-sim did not start");
  const std::string nowhere = "tcp://127.0.0.1:" + std::to_string(free_tcp_port());

  // 1. Empty queue, broker unreachable.
  const auto empty_dir = scratch.path() / "empty";
  std::filesystem::create_directories(empty_dir);
  write_file(empty_dir / "guardian.yaml", site_yaml(empty_dir, nowhere, sim_port));
  const auto never = [](const nlohmann::json&) { return false; };
  const Run empty = run_daemon(empty_dir, never, std::chrono::seconds{seconds});

  // 2. The same with a backlog, written straight into the queue file beforehand.
  const auto make_backlog = [&](const std::filesystem::path& dir, std::uint64_t readings_total) {
    std::filesystem::create_directories(dir);
    config::QueueConfig q;
    q.path = dir / "queue.db";
    auto store = gateway::OutboxStore::open(q);
    if (!store) throw std::runtime_error(store.error().describe());
    const auto messages = bench::telemetry_messages(8, per_message);
    std::vector<gateway::PendingMessage> batch;
    for (std::uint64_t readings = 0; readings < readings_total; readings += per_message) {
      batch.push_back(messages[batch.size() % messages.size()]);
      if (batch.size() == 500 || readings + per_message >= readings_total) {
        if (auto r = store.value().commit_batch(batch); !r)
          throw std::runtime_error(r.error().describe());
        batch.clear();
      }
    }
  };
  const auto backlog_dir = scratch.path() / "backlog";
  make_backlog(backlog_dir, backlog);
  write_file(backlog_dir / "guardian.yaml", site_yaml(backlog_dir, nowhere, sim_port));
  const Run with_backlog = run_daemon(backlog_dir, never, std::chrono::seconds{seconds});

  // 3. The backlog drains to a broker; and, for comparison, a backlog ten times smaller.
  MosquittoBroker broker;
  const auto drained = [](const nlohmann::json& s) { return s["queue"]["depth"] == 0; };
  write_file(backlog_dir / "guardian.yaml", site_yaml(backlog_dir, broker.uri(), sim_port));
  const Run drain = run_daemon(backlog_dir, drained, 600s);
  const auto small_dir = scratch.path() / "small";
  make_backlog(small_dir, backlog / 10);
  write_file(small_dir / "guardian.yaml", site_yaml(small_dir, broker.uri(), sim_port));
  const Run small_drain = run_daemon(small_dir, drained, 600s);

  std::printf("bench_backlog_rss: backlog of %llu readings (%u per message), %d s runs\n",
              static_cast<unsigned long long>(backlog), per_message, seconds);
  print("empty queue", empty);
  print("with the backlog", with_backlog);
  print("draining the backlog", drain);
  print("draining a tenth of it", small_drain);
  const auto ratio = [](const Run& a, const Run& b) {
    return static_cast<double>(a.at_end.hwm_kib) / static_cast<double>(b.at_end.hwm_kib);
  };
  std::printf(
      "  peak RSS ratios: backlog / empty %.3f (target <= 1.10); draining the backlog / draining"
      " a tenth of it %.3f\n",
      ratio(with_backlog, empty), ratio(drain, small_drain));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return bench::main_reporting_errors("bench_backlog_rss", run, argc, argv);
}
