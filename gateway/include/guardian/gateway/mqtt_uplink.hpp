#pragma once
/// \file
/// The uplink: drains the Outbox to an MQTT broker with Paho MQTT C++ (QoS 1), deleting a message
/// only after its PUBACK. It asks its secure_link::Link where to connect before every attempt.
///
///   start() ─▶ connect worker: link.open() ─▶ Paho connect ──ok──▶ publish status "online"
///        ▲                                        │ fail                 │ (retained)
///        └──── back-off with jitter ◀─────────────┘                      ▼
///   drain: outbox.async_fetch(lane) ─▶ publish (≤ max_inflight unacked) ─▶ PUBACK ─▶ acknowledge
///          two lanes: backlog (seq ≤ last committed at connect) and live (above); while both
///          have messages ready the live lane gets uplink.live_share of the publishes
///   connection lost ─▶ forget in-flight, lanes reset (re-send all unacked), reconnect
///
/// Every message has an outcome (docs/telemetry.md "Delivery"): delivered (PUBACK), or refused —
/// an MQTT 5 PUBACK reason code ≥ 0x80, larger than the broker takes even when split, or the
/// connection dropped right after it each time it was sent alone (RefusalWatch) — and a refused
/// message leaves the queue (Outbox::refuse), is logged once and reported on `gaps`
/// (refused_by_broker); the messages behind it flow on.
///
/// MQTT 5 by default (uplink.mqtt_version), 3.1.1 from the first broker that refuses 5. The
/// broker's CONNACK sets the in-flight window (Receive Maximum) and the largest packet (Maximum
/// Packet Size): a stored message larger than that is published in parts ("part"/"parts" in the
/// envelope, split between readings), and the pipeline is told to encode smaller messages.
///
/// Paho's callbacks arrive on Paho's threads and are posted to the io_context; everything in this
/// class runs on the io_context thread, except Link::open() and the creation/destruction of Paho
/// clients, which run on the uplink's own connect worker thread.
///
/// QoS 1, clean session (MQTT 5: clean start, no session expiry), no Paho persistence (the Outbox is the persistence), a fresh
/// Paho client per connection attempt (the Link may hand out a different URI each time). Topics:
/// SiteConfig::topic_prefix() + telemetry | records | gaps (by MessageKind), health, status.
/// status: retained {"v":1,"device":…,"state":"online","ts":…} on connect; the last will is the
/// retained {"v":1,"device":…,"state":"offline"}; stop() publishes a retained offline status.
/// Subscriptions (subscribe()) are made again on every connection: a clean session forgets them.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>

#include "guardian/common/reading.hpp"
#include "guardian/config/site_config.hpp"
#include "guardian/gateway/outbox.hpp"
#include "guardian/secure_link/link.hpp"

namespace guardian::gateway {

/// Where the uplink is in its connect loop.
enum class LinkState : std::uint8_t {
  stopped,     ///< not started, or stop()ped
  connecting,  ///< Link::open() and the MQTT connect are in progress
  connected,   ///< CONNACK received: draining the queue
  backoff,     ///< waiting (with jitter) before the next attempt
};

/// Wire name: "stopped", "connecting", "connected", "backoff".
[[nodiscard]] const char* to_string(LinkState s) noexcept;

/// What the uplink has done since construction (health reads these).
struct UplinkCounters {
  std::uint64_t published = 0;          ///< queued messages handed to Paho (re-sends included)
  std::uint64_t acknowledged = 0;       ///< PUBACKs received for queued messages
  std::uint64_t live_published = 0;     ///< health/status messages published
  std::uint64_t live_dropped = 0;       ///< health messages not sent: the link was down, or the
                                        ///< message was larger than the broker takes
  std::uint64_t connects = 0;           ///< successful connections
  std::uint64_t connect_failures = 0;   ///< attempts that failed (Link::open(), TCP, TLS, CONNACK)
  std::uint64_t connection_losses = 0;  ///< established connections that dropped
  std::uint64_t skipped_dropped = 0;    ///< fetched, then dropped by the queue's bounds before
                                        ///< it was sent (in a gap message, so not sent)
  std::uint64_t received = 0;           ///< messages received on subscribed topics
  std::uint64_t refused = 0;            ///< queued messages the broker refused (taken out)
  std::uint64_t split = 0;              ///< queued messages published in parts to fit
  std::uint64_t parts_published = 0;    ///< the parts of those
  int mqtt_version = 0;                 ///< of the current (or last) connection: 5, or 4 (3.1.1)
  std::uint32_t broker_max_packet = 0;  ///< the broker's Maximum Packet Size (0: none said)
  std::uint32_t window = 0;             ///< queued publishes in flight at most, this connection
  std::string last_error;               ///< the latest failure, with the URI (never a secret)
  Timestamp state_since{};              ///< when state() last changed
};

/// Drains an Outbox to the broker its Link names. Not thread-safe: use it on the io_context
/// thread. Destroy it before the Outbox and the Link.

class MqttUplink {
 public:
  /// `link` and `outbox` must outlive the uplink.
  MqttUplink(boost::asio::io_context& io, const config::SiteConfig& site, secure_link::Link& link,
             Outbox& outbox);
  ~MqttUplink();  ///< stop()
  MqttUplink(const MqttUplink&) = delete;
  MqttUplink& operator=(const MqttUplink&) = delete;

  /// Begins connecting; returns immediately. No-op unless stopped. A stopped uplink can be
  /// started again.
  void start();
  /// Publishes status "offline" (retained) if connected, disconnects, stops reconnecting.
  /// Blocks for at most ~2 s. Idempotent.
  void stop();

  /// Publishes a message that does not go through the queue (health). QoS 1. Dropped and
  /// counted when not connected. `topic_suffix` is appended to the device's topic prefix.
  void publish_live(const std::string& topic_suffix, std::string payload, bool retained);

  /// Receives a message on a subscribed topic: the topic after the device's prefix, the payload.
  using MessageHandler = std::function<void(const std::string& topic_suffix, std::string payload)>;

  /// Subscribes with QoS 1 to the device's prefix + `topic_suffix` (no wildcards): at once when
  /// connected, and again after every (re)connection. `handler` runs on the io_context thread,
  /// once per message (QoS 1: a message may come twice). A failed subscription is reported in
  /// counters().last_error. Messages sent while the gateway is not connected are not delivered.
  /// Replaces an earlier handler for the same suffix.
  void subscribe(const std::string& topic_suffix, MessageHandler handler);

  /// Called with the largest message (payload bytes, on the telemetry topic) the current broker
  /// takes, at every connection; uplink.max_message_bytes when it states no smaller limit.
  void on_message_limit(std::function<void(std::uint64_t bytes)> handler);

  /// The current state of the connect loop.
  [[nodiscard]] LinkState state() const noexcept;
  /// Counters since construction.
  [[nodiscard]] const UplinkCounters& counters() const noexcept;
  /// Queued messages published and not yet acknowledged (at most uplink.max_inflight).
  [[nodiscard]] std::uint64_t in_flight() const noexcept;
  /// What the Link reports now (Link::info(), thread-safe): kind, identity, certificate expiry,
  /// the secure link's counters.
  [[nodiscard]] secure_link::LinkInfo link_info() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace guardian::gateway
