// bench_uplink_drain: how fast the MqttUplink drains a full queue to a broker (QoS 1, PUBACK,
// delete) against raw Paho publishing the same payloads with the same in-flight window, to a
// mosquitto this program starts, in the same run.
//   bench_uplink_drain [--messages 20000] [--readings 50] [--inflight 100] [--dir /var/tmp]
//                      [--rounds 5] [--mqtt 5|3.1.1] [--broker-inflight 0]
// See bench/README.md.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <stdexcept>
#include <thread>

#include <mqtt/async_client.h>
#include <boost/asio/io_context.hpp>

#include "bench_support.hpp"
#include "guardian/gateway/mqtt_uplink.hpp"
#include "guardian/gateway/payload.hpp"
#include "guardian/secure_link/link.hpp"

namespace {

using namespace guardian;
using Clock = std::chrono::steady_clock;
const std::string kDevice = "bench-001";

std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool logged_running(const std::filesystem::path& log) {
  std::ifstream in(log);
  for (std::string line; std::getline(in, line);)
    if (line.ends_with(" running")) return true;
  return false;
}

// A mosquitto for the run: no persistence, no message-queue limits, this user; `inflight` is its
// max_inflight_messages (0: no limit; mosquitto's default, 20, is the Receive Maximum it gives
// MQTT 5 clients).
class Broker {
 public:
  Broker(const std::filesystem::path& dir, int inflight) : port_(free_port()) {
    const auto conf = dir / "mosquitto.conf";
    const auto log = dir / "mosquitto.log";
    std::ofstream(conf) << "user " << (::getuid() == 0 ? "root" : std::getenv("USER")) << "\n"
                        << "persistence false\nlog_dest stderr\n"
                        << "log_type information\nmax_queued_messages 0\n"
                        << "max_inflight_messages " << inflight << "\nlistener " << port_
                        << " 127.0.0.1\n"
                        << "allow_anonymous true\n";
    std::fflush(nullptr);
    pid_ = ::fork();
    if (pid_ == 0) {
      // stderr is unbuffered: the log shows "running" as soon as the listener is open.
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (fd >= 0) ::dup2(fd, 2);
      ::execlp("mosquitto", "mosquitto", "-c", conf.c_str(), nullptr);
      ::_exit(127);
    }
    // mosquitto logs "… running" once its listener is open.
    for (int i = 0; i < 500 && !logged_running(log); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds{10});
    if (!logged_running(log)) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      std::ifstream in(log);
      std::string text;
      std::getline(in, text, '\0');
      throw std::runtime_error("mosquitto did not start: " + text);
    }
  }
  ~Broker() {
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
  }
  Broker(const Broker&) = delete;
  Broker& operator=(const Broker&) = delete;
  [[nodiscard]] std::string uri() const { return "tcp://127.0.0.1:" + std::to_string(port_); }

 private:
  std::uint16_t port_;
  pid_t pid_ = -1;
};

void fill_queue(const config::QueueConfig& queue,
                const std::vector<gateway::PendingMessage>& samples, std::size_t count) {
  auto store = gateway::OutboxStore::open(queue);
  if (!store) {
    std::fprintf(stderr, "%s\n", store.error().describe().c_str());
    std::exit(1);
  }
  std::vector<gateway::PendingMessage> batch;
  for (std::size_t i = 0; i < count; ++i) {
    batch.push_back(samples[i % samples.size()]);
    if (batch.size() == 1000 || i + 1 == count) {
      if (!store.value().commit_batch(batch)) std::exit(1);
      batch.clear();
    }
  }
}

// The uplink draining a queue filled beforehand; timed from the connection to an empty queue
// (every message PUBACKed and deleted).
std::map<std::string, double> drain_with_uplink(const config::SiteConfig& site,
                                                const std::vector<gateway::PendingMessage>& samples,
                                                std::size_t count) {
  fill_queue(site.queue, samples, count);
  auto store = gateway::OutboxStore::open(site.queue);
  if (!store) std::exit(1);
  boost::asio::io_context io;
  auto guard = boost::asio::make_work_guard(io);
  auto link = secure_link::make_link(site.uplink);
  gateway::Outbox outbox(io, std::move(store).value(), site.queue);
  gateway::MqttUplink uplink(io, site, *link, outbox);
  uplink.start();
  while (uplink.state() != gateway::LinkState::connected) io.run_one();
  const auto start = Clock::now();
  const double cpu_before = bench::process_cpu_seconds();
  while (outbox.counters().acknowledged < count) io.run_one();
  const double seconds = bench::seconds_since(start);
  const double drain_cpu = bench::process_cpu_seconds() - cpu_before;
  const double published = static_cast<double>(uplink.counters().published);
  uplink.stop();
  return {{"seconds", seconds}, {"published", published}, {"drain_cpu", drain_cpu}};
}

class CountingListener final : public mqtt::iaction_listener {
 public:
  void wait_below(std::size_t window) {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return outstanding_ < window; });
    ++outstanding_;
  }
  void wait_acked(std::size_t count) {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return acked_ >= count; });
  }

 private:
  void on_success(const mqtt::token&) override { done(); }
  void on_failure(const mqtt::token&) override {
    std::fprintf(stderr, "raw Paho: a publish failed\n");
    std::exit(1);
  }
  void done() {
    {
      std::lock_guard lock(mutex_);
      --outstanding_;
      ++acked_;
    }
    cv_.notify_all();
  }
  std::mutex mutex_;
  std::condition_variable cv_;
  std::size_t outstanding_ = 0;
  std::size_t acked_ = 0;
};

// Raw Paho: the same envelopes (built before timing), the same QoS, window and options, nothing
// else — no queue, no fetch, no delete.
std::map<std::string, double> publish_raw(const config::SiteConfig& site,
                                          const std::vector<gateway::PendingMessage>& samples,
                                          std::size_t count) {
  std::vector<std::string> payloads;
  payloads.reserve(count);
  for (std::size_t i = 0; i < count; ++i)
    payloads.push_back(gateway::envelope(kDevice, i + 1, samples[i % samples.size()].body));
  const mqtt::string_ref topic(site.topic_prefix() + "telemetry");
  const auto window = static_cast<std::size_t>(site.uplink.max_inflight);
  mqtt::create_options create(MQTTVERSION_3_1_1);  // as the uplink: no off-line buffering
  create.set_max_buffered_messages(static_cast<int>(2 * window) + 100);
  create.set_send_while_disconnected(false);
  mqtt::async_client client(site.uplink.broker, "bench-raw", create, nullptr);
  mqtt::connect_options options;
  options.set_clean_session(true);
  options.set_max_inflight(static_cast<int>(window) + 16);
  client.connect(options)->wait();
  CountingListener listener;
  const auto start = Clock::now();
  for (const auto& p : payloads) {
    listener.wait_below(window);
    client.publish(mqtt::make_message(topic, p.data(), p.size(), 1, false), nullptr, listener);
  }
  listener.wait_acked(count);
  const double seconds = bench::seconds_since(start);
  client.disconnect()->wait();
  return {{"seconds", seconds}};
}

void print_row(const char* name, const bench::PartReport& r, std::size_t messages,
               std::uint32_t readings) {
  const double s = r.values.at("seconds");
  std::printf("%-22s %8.3f s %10.0f msg/s %12.0f readings/s   cpu %6.2f s   peak RSS %7.1f MiB\n",
              name, s, static_cast<double>(messages) / s,
              static_cast<double>(messages) * readings / s, r.cpu_seconds, r.max_rss_mib);
}

}  // namespace

int run(int argc, char** argv) {
  const auto [messages, readings, rounds, scratch_base] = bench::common_options(argc, argv);
  const int inflight = std::stoi(bench::option(argc, argv, "inflight", "100"));
  bench::ScratchDir dir(scratch_base);
  const int broker_inflight = std::stoi(bench::option(argc, argv, "broker-inflight", "0"));
  Broker broker(dir.path(), broker_inflight);

  config::SiteConfig site;
  site.device_id = kDevice;
  site.uplink.broker = broker.uri();
  site.uplink.max_inflight = inflight;
  const std::string mqtt = bench::option(argc, argv, "mqtt", "5");
  if (mqtt != "5" && mqtt != "3.1.1") throw std::runtime_error("--mqtt takes 5 or 3.1.1");
  site.uplink.mqtt_version = mqtt == "5" ? config::MqttVersion::v5 : config::MqttVersion::v3_1_1;
  const auto samples = bench::telemetry_messages(16, readings);
  std::printf(
      "bench_uplink_drain: %zu messages x %u readings (%zu bytes/message), QoS 1, %d in flight, "
      "uplink MQTT %s (raw Paho 3.1.1), %s\n",
      messages, readings, gateway::envelope(kDevice, 1, samples[0].body).size(), inflight,
      mqtt.c_str(), broker.uri().c_str());

  int round = 0;
  auto [uplink, raw] = bench::median_of_alternating(
      rounds,
      [&] {
        std::filesystem::remove_all(dir.path() / "queue");
        site.queue.path = dir.path() / "queue" / ("round-" + std::to_string(++round) + ".db");
        return bench::run_part([&] { return drain_with_uplink(site, samples, messages); });
      },
      [&] { return bench::run_part([&] { return publish_raw(site, samples, messages); }); });

  print_row("MqttUplink (drain)", uplink, messages, readings);
  print_row("raw Paho publish", raw, messages, readings);
  std::printf(
      "median of %d alternating rounds; MqttUplink published %.0f (re-sends included);"
      " CPU of the drain alone %.2f s (the row's CPU and RSS include filling the queue)\n",
      rounds, uplink.values.at("published"), uplink.values.at("drain_cpu"));
  std::printf("ratio MqttUplink / raw Paho (messages/s): %.2fx (target >= 0.80x)\n",
              raw.values.at("seconds") / uplink.values.at("seconds"));
  return 0;
}

int main(int argc, char** argv) {
  return bench::main_reporting_errors("bench_uplink_drain", run, argc, argv);
}
