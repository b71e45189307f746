#pragma once
/// \file
/// A real MQTT subscriber (Paho C++) that records everything it receives, for assertions.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace guardian::testing {

/// Client-certificate TLS for a collector (Paho ssl:// URI).
struct CollectorTls {
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
};

struct ReceivedMessage {
  std::string topic;
  std::string payload;
  bool retained = false;
  int qos = 0;
};

class MqttCollector {
 public:
  /// Connects to `uri` (tcp://127.0.0.1:port) and subscribes to `topic_filter` with QoS 1.
  /// With `persistent_session` the broker keeps the subscription and queues QoS 1 messages
  /// while the collector is away (use with a persistent MosquittoBroker across restarts).
  /// With `tls`, `uri` is ssl://… and the collector authenticates with that certificate.
  /// Throws std::runtime_error if that does not succeed within 10 s.
  MqttCollector(const std::string& uri, const std::string& topic_filter,
                const std::string& client_id = {}, bool persistent_session = false,
                const std::optional<CollectorTls>& tls = std::nullopt);
  ~MqttCollector();
  MqttCollector(const MqttCollector&) = delete;
  MqttCollector& operator=(const MqttCollector&) = delete;

  /// A copy of everything received so far.
  [[nodiscard]] std::vector<ReceivedMessage> messages() const;
  /// Messages whose topic ends with `suffix`.
  [[nodiscard]] std::vector<ReceivedMessage> messages_on(const std::string& topic_suffix) const;
  /// Waits until `predicate(messages)` holds or the deadline passes; returns the predicate.
  /// The predicate runs under the collector's lock: use its argument, never call back into
  /// the collector from it.
  bool wait_for(const std::function<bool(const std::vector<ReceivedMessage>&)>& predicate,
                std::chrono::milliseconds deadline);
  /// Waits for at least `count` messages on topics ending with `topic_suffix`.
  bool wait_for_count(const std::string& topic_suffix, std::size_t count,
                      std::chrono::milliseconds deadline);
  [[nodiscard]] bool connected() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace guardian::testing
