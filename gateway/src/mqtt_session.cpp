#include "mqtt_session.hpp"

#include <MQTTReasonCodes.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace guardian::gateway::detail {
namespace {

constexpr std::chrono::seconds kConnectTimeout{10};

// The password, read at every attempt (it may be rotated); trailing newlines are not part of it.
result<std::string> read_password(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return make_errno_error(errno, "uplink.password_file " + path.string() +
                                       " cannot be read; check the path and its permissions");
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string password = ss.str();
  while (!password.empty() && (password.back() == '\n' || password.back() == '\r'))
    password.pop_back();
  return password;
}

}  // namespace

BrokerLimits limits_from(const mqtt::token& connect_token) {
  BrokerLimits limits;
  try {
    const auto response = connect_token.get_connect_response();
    limits.mqtt_version = response.get_mqtt_version();
    const auto& props = response.get_properties();
    if (props.contains(mqtt::property::MAXIMUM_PACKET_SIZE))
      limits.max_packet_size = mqtt::get<std::uint32_t>(props, mqtt::property::MAXIMUM_PACKET_SIZE);
    if (props.contains(mqtt::property::RECEIVE_MAXIMUM))
      limits.receive_maximum = mqtt::get<std::uint16_t>(props, mqtt::property::RECEIVE_MAXIMUM);
  } catch (const std::exception&) {
    // Not a connect token with a response: no limits learned.
  }
  return limits;
}

bool refuses_protocol_version(const mqtt::token& connect_token) {
  return connect_token.get_return_code() == 1 ||  // 3.1.1: unacceptable protocol version
         static_cast<int>(connect_token.get_reason_code()) == 0x84;
}

std::string reason_text(int reason_code) {
  char hex[8];
  std::snprintf(hex, sizeof hex, "0x%02X", static_cast<unsigned>(reason_code) & 0xFFu);
  const char* name = MQTTReasonCode_toString(static_cast<MQTTReasonCodes>(reason_code));
  return std::string(hex) + (name != nullptr ? std::string(" ") + name : std::string{});
}

std::size_t publish_overhead(std::size_t topic_size) noexcept {
  return 5 + 2 + topic_size + 2 + 1;
}

void destroy_connection(std::shared_ptr<Connection> conn, std::chrono::milliseconds timeout) {
  if (!conn || !conn->client) return;
  try {
    if (conn->client->is_connected()) conn->client->disconnect(0)->wait_for(timeout);
  } catch (const mqtt::exception&) {
    // Already gone; destroying the client is all that is left.
  }
  conn.reset();
}

result<mqtt::connect_options> prepare_session(Connection& conn, const config::UplinkConfig& uplink,
                                              const secure_link::MqttEndpoint& endpoint,
                                              const SessionSettings& settings) {
  conn.mqtt_version = settings.mqtt_version;
  mqtt::connect_options options;
  options.set_mqtt_version(settings.mqtt_version);
  // No broker session: the queue is the persistence, and every unacknowledged message is sent
  // again on the next connection. MQTT 5: clean start, session expiry 0 (the default).
  if (settings.mqtt_version >= MQTTVERSION_5)
    options.set_clean_start(true);
  else
    options.set_clean_session(true);
  options.set_automatic_reconnect(false);  // our loop: Link::open() before every attempt
  options.set_keep_alive_interval(std::chrono::duration_cast<std::chrono::seconds>(uplink.keepalive));
  options.set_connect_timeout(kConnectTimeout);
  options.set_max_inflight(settings.max_inflight);
  options.set_will(mqtt::will_options(settings.will_topic, settings.will_payload, 1, true));
  if (!uplink.username.empty()) options.set_user_name(uplink.username);
  if (!uplink.password_file.empty()) {
    auto password = read_password(uplink.password_file);
    if (!password) return password.error();
    options.set_password(password.value());
  }
  if (const auto& tls = endpoint.tls) {
    conn.tls = true;
    mqtt::ssl_options ssl;
    if (!tls->ca_file.empty()) ssl.set_trust_store(tls->ca_file.string());
    if (!tls->cert_file.empty()) ssl.set_key_store(tls->cert_file.string());
    if (!tls->key_file.empty()) ssl.set_private_key(tls->key_file.string());
    ssl.set_enable_server_cert_auth(true);
    ssl.set_verify(true);  // host name / IP in the broker certificate
    ssl.set_ssl_version(MQTT_SSL_VERSION_TLS_1_2);
    ssl.set_error_handler([raw = &conn](const std::string& message) {
      std::lock_guard lock(raw->tls_mutex);
      if (!raw->tls_errors.empty()) raw->tls_errors += "; ";
      raw->tls_errors += message;
    });
    options.set_ssl(std::move(ssl));
  }
  // Paho's own buffer must hold the in-flight window plus live publishes (FIELD-NOTES: the
  // default of 100 throws "No more messages can be buffered" even while connected). Off-line
  // buffering stays off — create_options(version, n) would turn it on: while disconnected a
  // publish must fail, the queue keeps the message (and Paho C leaks the buffered commands of a
  // client destroyed before it reconnects; seen with LeakSanitizer).
  mqtt::create_options create(settings.mqtt_version);
  create.set_max_buffered_messages(settings.max_buffered);
  create.set_send_while_disconnected(false);
  conn.server_uri = endpoint.server_uri;
  conn.client =
      std::make_unique<mqtt::async_client>(conn.server_uri, settings.client_id, create, nullptr);
  return options;
}

}  // namespace guardian::gateway::detail
