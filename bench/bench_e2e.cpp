// End-to-end throughput: simulated Modbus devices → guardian → mosquitto → a counting subscriber.
//
//   bench_e2e [--devices N] [--points P] [--poll MS] [--seconds S] [--max-per-message M]
//
// Starts its own guardian-sim (one server, N connections), mosquitto and `guardian run` on free
// loopback ports, measures for S seconds after a warm-up, and prints points/s delivered to the
// subscriber, the gateway's CPU time (utime+stime from /proc) and peak RSS (VmHWM), and the
// queue depth at the end (a growing depth means the uplink is not keeping up).
#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <mqtt/async_client.h>
#include <sstream>
#include <thread>
#include <unistd.h>

#include "bench_support.hpp"
#include "guardian/gateway/compact_payload.hpp"
#include "guardian/gateway/control_server.hpp"
#include "guardian/testing/environment.hpp"
#include "guardian/testing/mosquitto.hpp"
#include "guardian/testing/process.hpp"

using namespace guardian::testing;
using namespace std::chrono_literals;
using guardian::bench::proc_stats;

namespace {

// Counts readings and payload bytes in telemetry: v1 without a JSON parser (one "name": per
// reading), v2 by the length of its "d" array (inflated first when deflated).
class CountingSubscriber : public virtual mqtt::callback {
 public:
  CountingSubscriber(const std::string& uri) : client_(uri, "bench-counter") {
    client_.set_callback(*this);
    client_.connect(mqtt::connect_options_builder().clean_session(true).finalize())->wait();
    client_.subscribe("guardian/v1/+/telemetry", 1)->wait();
  }
  void message_arrived(mqtt::const_message_ptr msg) override {
    const auto& p = msg->get_payload_ref().str();
    std::uint64_t n = 0;
    if (!p.empty() && p.front() == '{' && p.find("\"v\":1,") != std::string::npos) {
      for (std::size_t pos = p.find("\"name\":"); pos != std::string::npos;
           pos = p.find("\"name\":", pos + 7))
        ++n;
    } else {
      auto text = p.front() == '{' ? guardian::result<std::string>(p)
                                   : guardian::gateway::inflate_bytes(p, 64u << 20);
      if (text) {
        const auto j = nlohmann::json::parse(text.value(), nullptr, false);
        if (j.is_object() && j.contains("d")) n = j["d"].size();
      }
    }
    readings_ += n;
    bytes_ += p.size();
    ++messages_;
  }
  std::atomic<std::uint64_t> readings_{0};
  std::atomic<std::uint64_t> messages_{0};
  std::atomic<std::uint64_t> bytes_{0};

 private:
  mqtt::async_client client_;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"End-to-end throughput: guardian-sim → guardian → mosquitto"};
  int devices = 10, points = 100, poll_ms = 50, seconds = 20, per_message = 500, inflight = 200;
  app.add_option("--devices", devices, "Modbus devices (connections)")->capture_default_str();
  app.add_option("--points", points, "Points per device (holding registers, uint16)")->capture_default_str();
  app.add_option("--poll", poll_ms, "Poll interval per device, ms")->capture_default_str();
  app.add_option("--seconds", seconds, "Measurement time")->capture_default_str();
  app.add_option("--max-per-message", per_message, "uplink.max_readings_per_message")->capture_default_str();
  app.add_option("--max-inflight", inflight, "uplink.max_inflight")->capture_default_str();
  std::string max_pending;
  app.add_option("--max-pending", max_pending, "queue.max_pending_bytes (e.g. 4MiB; default: the gateway's)");
  std::string payload = "v1", compression = "none", model = "bulk";
  app.add_option("--model", model,
                 "guardian-sim model: bulk (every register readable, counting values) or espresso "
                 "(14 registers; the rest are refused and sent as bad readings with their error)")
      ->capture_default_str();
  app.add_option("--payload", payload, "uplink.payload: v1 or v2")->capture_default_str();
  app.add_option("--compression", compression, "uplink.compression (v2): none or deflate")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  TempDir dir("guardian-bench");
  MosquittoBroker broker;
  const auto sim_port = free_tcp_port();
  Process sim({{binary_path("guardian-sim").string(), "modbus-tcp", "--port", std::to_string(sim_port),
                "--model", model},
               {}, dir / "sim.log", {}});
  if (!wait_for_tcp_port(sim_port, 10s)) {
    std::cerr << "guardian-sim did not start\n";
    return 1;
  }

  std::string yaml = "device:\n  id: bench-01\nqueue:\n  path: " + (dir / "queue.db").string() +
                     (max_pending.empty() ? std::string() : "\n  max_pending_bytes: " + max_pending) +
                     "\nuplink:\n  broker: " + broker.uri() +
                     "\n  max_readings_per_message: " + std::to_string(per_message) +
                     "\n  max_inflight: " + std::to_string(inflight) + "\n  payload: " + payload +
                     (payload == "v2" ? "\n  compression: " + compression : std::string()) +
                     "\ncontrol:\n  socket: " + (dir / "control.sock").string() +
                     "\nadapters:\n";
  for (int d = 0; d < devices; ++d) {
    yaml += "  - name: bus-" + std::to_string(d) + "\n    type: modbus\n    host: 127.0.0.1\n    port: " +
            std::to_string(sim_port) + "\n    devices:\n      - name: dev-" + std::to_string(d) +
            "\n        unit_id: 1\n        poll_interval: " + std::to_string(poll_ms) +
            "ms\n        points:\n";
    for (int p = 0; p < points; ++p)
      yaml += "          - {name: p" + std::to_string(p) + ", table: holding, address: " +
              std::to_string(p % 120) + ", type: uint16}\n";
  }
  write_file(dir / "guardian.yaml", yaml);

  CountingSubscriber counter(broker.uri());
  Process gw({{binary_path("guardian").string(), "run", "-c", (dir / "guardian.yaml").string(),
               "--log-level", "warn"},
              {}, dir / "guardian.log", {}});
  const auto status = [&] {
    auto r = guardian::gateway::control_request(dir / "control.sock", {{"cmd", "status"}}, 5s);
    return r ? r.value().at("status") : nlohmann::json();
  };
  if (!wait_until([&] { return !status().is_null(); }, 20s)) {
    std::cerr << "guardian did not start:\n" << read_file(dir / "guardian.log");
    return 1;
  }
  // Warm-up: let every connection come up and the pipeline reach steady state.
  wait_until([&] { return counter.readings_ > 0; }, 20s);
  std::this_thread::sleep_for(3s);  // benchmark warm-up period, not synchronisation

  const auto startup = proc_stats(gw.pid());
  // Reset the peak-RSS counter (Linux: 5 > /proc/PID/clear_refs) so the figure below is the peak
  // of the measurement window, not of start-up (parsing a large YAML configuration).
  { std::ofstream(("/proc/" + std::to_string(gw.pid()) + "/clear_refs").c_str()) << "5"; }
  const auto r0 = counter.readings_.load();
  const auto m0 = counter.messages_.load();
  const auto b0 = counter.bytes_.load();
  const auto c0 = proc_stats(gw.pid());
  const auto t0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::seconds{seconds});  // the measurement window
  const auto t1 = std::chrono::steady_clock::now();
  const auto r1 = counter.readings_.load();
  const auto m1 = counter.messages_.load();
  const auto b1 = counter.bytes_.load();
  const auto c1 = proc_stats(gw.pid());
  const auto st = status();

  const double elapsed = std::chrono::duration<double>(t1 - t0).count();
  const double offered = static_cast<double>(devices) * points * 1000.0 / poll_ms;
  std::printf("bench_e2e: %d devices x %d points every %d ms (offered %.0f points/s), %d s, "
              "model %s, payload %s%s\n",
              devices, points, poll_ms, offered, seconds, model.c_str(), payload.c_str(),
              payload == "v2" ? (" " + compression).c_str() : "");
  std::printf("  wire           %.2f bytes per reading (telemetry payloads, envelope included)\n",
              r1 > r0 ? static_cast<double>(b1 - b0) / static_cast<double>(r1 - r0) : 0.0);
  std::printf("  delivered      %.0f points/s (%.2f of offered), %.0f messages/s\n",
              static_cast<double>(r1 - r0) / elapsed, static_cast<double>(r1 - r0) / elapsed / offered,
              static_cast<double>(m1 - m0) / elapsed);
  std::printf("  gateway CPU    %.2f s in %.1f s (%.0f%% of one core)\n", c1.cpu_s - c0.cpu_s, elapsed,
              100.0 * (c1.cpu_s - c0.cpu_s) / elapsed);
  std::printf("  gateway RSS    peak %.1f MiB while measuring, now %.1f MiB (start-up peak %.1f MiB)\n",
              static_cast<double>(c1.hwm_kib) / 1024.0, static_cast<double>(c1.rss_kib) / 1024.0,
              static_cast<double>(startup.hwm_kib) / 1024.0);
  if (!st.is_null())
    std::printf("  queue at end   depth %llu, oldest %.2f s\n",
                static_cast<unsigned long long>(st["queue"]["depth"].get<std::uint64_t>()),
                st["queue"]["oldest_age_s"].get<double>());
  gw.stop(10s);
  return 0;
}
