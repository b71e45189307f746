#include "guardian/testing/mosquitto.hpp"

#include <signal.h>

#include <stdexcept>

namespace guardian::testing {

MosquittoBroker::MosquittoBroker(std::string extra_config, std::uint16_t port, bool persistent)
    : dir_("guardian-mosquitto"),
      port_(port != 0 ? port : free_tcp_port()),
      extra_config_(std::move(extra_config)),
      persistent_(persistent) {
  start();
}

MosquittoBroker::~MosquittoBroker() { kill(); }

void MosquittoBroker::start() {
  if (running()) return;
  // Run as whoever runs the test (root in CI would otherwise drop to user 'mosquitto', which
  // cannot read a temporary directory). max_queued_messages: the default (1000) silently drops
  // QoS 1 messages to a slow subscriber, which would look like loss in a counting test.
  std::string conf;
  conf += "user " + std::string(::getenv("USER") != nullptr && std::string(::getenv("USER")) != "root"
                                     ? ::getenv("USER")
                                     : "root") + "\n";
  if (persistent_) {
    conf += "persistence true\npersistence_location " + dir_.path().string() + "/\n";
    conf += "autosave_interval 0\n";
  } else {
    conf += "persistence false\n";
  }
  conf += "log_dest stderr\n";
  conf += "log_type error\nlog_type warning\nlog_type notice\n";
  conf += "max_queued_messages 10000000\n";
  conf += "max_inflight_messages 0\n";
  conf += "listener " + std::to_string(port_) + " 127.0.0.1\n";
  conf += "allow_anonymous true\n";
  conf += extra_config_;
  conf += "\n";
  write_file(dir_ / "mosquitto.conf", conf);
  process_ = std::make_unique<Process>(Process::Options{
      {"mosquitto", "-c", (dir_ / "mosquitto.conf").string()}, {}, dir_ / "mosquitto.log", {}});
  if (!wait_for_tcp_port(port_, std::chrono::seconds{10}))
    throw std::runtime_error("mosquitto did not start on port " + std::to_string(port_) + ": " +
                             log());
}

void MosquittoBroker::stop() {
  if (process_) process_->stop(std::chrono::seconds{5});
}

void MosquittoBroker::kill() {
  if (process_) process_->kill_now();
}

void MosquittoBroker::reload() {
  if (process_) process_->signal(SIGHUP);
}

bool MosquittoBroker::running() const { return process_ && process_->running(); }

std::string MosquittoBroker::log() const { return read_file(dir_ / "mosquitto.log"); }

}  // namespace guardian::testing
