#pragma once
// The Paho side of one uplink connection attempt: the client, its listeners and callbacks, the
// options it connects with (MQTT 5 or 3.1.1, TLS, the last will), and what the broker's CONNACK
// says about its limits. The drain that decides what to publish is in mqtt_uplink.cpp.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <mqtt/async_client.h>

#include "guardian/common/result.hpp"
#include "guardian/config/site_config.hpp"
#include "guardian/secure_link/link.hpp"

namespace guardian::gateway::detail {

// An iaction_listener forwarding to functions set by the owner.
class Listener final : public mqtt::iaction_listener {
 public:
  std::function<void(const mqtt::token&)> succeeded;
  std::function<void(const mqtt::token&)> failed;

 private:
  void on_success(const mqtt::token& t) override {
    if (succeeded) succeeded(t);
  }
  void on_failure(const mqtt::token& t) override {
    if (failed) failed(t);
  }
};

class ClientCallback final : public mqtt::callback {
 public:
  std::function<void(const std::string&)> lost;
  std::function<void(mqtt::const_message_ptr)> arrived;

 private:
  void connection_lost(const std::string& cause) override {
    if (lost) lost(cause);
  }
  void message_arrived(mqtt::const_message_ptr message) override {
    if (arrived) arrived(std::move(message));
  }
};

// What the broker said in its CONNACK (MQTT 5 properties; nothing under 3.1.1).
struct BrokerLimits {
  int mqtt_version = MQTTVERSION_3_1_1;
  std::optional<std::uint32_t> max_packet_size;  // Maximum Packet Size
  std::optional<std::uint16_t> receive_maximum;  // Receive Maximum: QoS 1 publishes in flight
};

[[nodiscard]] BrokerLimits limits_from(const mqtt::token& connect_token);

// Whether a failed CONNECT was refused for its protocol version (3.1.1 return code 1, MQTT 5
// reason 0x84): a broker that does not speak MQTT 5.
[[nodiscard]] bool refuses_protocol_version(const mqtt::token& connect_token);

// "0x87 Not authorized": an MQTT 5 reason code and its name.
[[nodiscard]] std::string reason_text(int reason_code);

// The bytes an MQTT PUBLISH adds to its payload on `topic`: fixed header (≤ 5), topic length
// and name, packet id, and (MQTT 5) an empty property length.
[[nodiscard]] std::size_t publish_overhead(std::size_t topic_size) noexcept;

// One connection attempt and, if it succeeds, the connection. Its listeners are declared before
// the client so that they outlive it: Paho may call them until the client is destroyed.
struct Connection {
  Listener connect_listener;
  Listener publish_listener;
  Listener subscribe_listener;
  ClientCallback callback;
  std::mutex tls_mutex;
  std::string tls_errors;  // OpenSSL's messages for this attempt, for last_error
  std::string server_uri;
  bool tls = false;
  int mqtt_version = MQTTVERSION_5;
  std::uint64_t generation = 0;
  std::unique_ptr<mqtt::async_client> client;

  std::string take_tls_errors() {
    std::lock_guard lock(tls_mutex);
    return std::exchange(tls_errors, {});
  }
};

// Disconnects (waiting at most `timeout`) and destroys the client.
void destroy_connection(std::shared_ptr<Connection> conn, std::chrono::milliseconds timeout);

// What a connection attempt is made with.
struct SessionSettings {
  std::string client_id;
  std::string will_topic;
  std::string will_payload;
  int mqtt_version = MQTTVERSION_5;
  int max_inflight = 100;  // Paho's own in-flight window (queued plus live publishes)
  int max_buffered = 300;  // publishes Paho may hold before it refuses more
};

// Creates conn.client for `endpoint` and returns the options to connect with; the password is
// read from uplink.password_file now (it may be rotated). Throws mqtt::exception.
[[nodiscard]] result<mqtt::connect_options> prepare_session(Connection& conn,
                                                            const config::UplinkConfig& uplink,
                                                            const secure_link::MqttEndpoint& endpoint,
                                                            const SessionSettings& settings);

}  // namespace guardian::gateway::detail
