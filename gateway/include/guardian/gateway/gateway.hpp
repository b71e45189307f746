#pragma once
/// \file
/// The daemon: wires the components of a validated SiteConfig on one io_context.
///
///   adapters ──▶ Pipeline ──▶ Outbox (SQLite worker) ──▶ MqttUplink (Paho) ──▶ broker
///        │  ▲                                                ▲ │
///        │  └── async_write ◀── CommandDispatcher ◀── {prefix}commands (subscribed)
///        │                         └──────────────▶ {prefix}commands/result (live)
///        └────────── health timer ───────────────────────────┘ (health, retained)
///   ControlServer ◀── guardian status, guardian write -c (through the CommandDispatcher)
///
/// Start-up errors (queue cannot be opened, control socket taken) come back from start(); once
/// running, faults of the environment (broker away, device silent) are handled and reported in
/// health, never fatal.

#include <memory>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "guardian/common/result.hpp"
#include "guardian/config/site_config.hpp"

namespace guardian::gateway {

class Gateway {
 public:
  Gateway(boost::asio::io_context& io, config::SiteConfig site);
  ~Gateway();
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  /// Opens the queue, starts the uplink, the adapters, the health timer and the control socket.
  [[nodiscard]] result<void> start();
  /// Graceful stop: adapters first, then everything pending is committed, then the uplink
  /// publishes "offline" and disconnects. Idempotent. io_context thread.
  void stop();

  /// Health plus last values (what `guardian status` shows). io_context thread.
  [[nodiscard]] nlohmann::json status() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace guardian::gateway
