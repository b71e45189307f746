#pragma once
/// \file
/// The gateway's health as JSON (docs/telemetry.md "health"): link state, queue depth and age of
/// the oldest item, per-adapter/per-source counters and round-trip times. Published retained on
/// `health` every uplink.health_interval and served, with last values, to `guardian status`.

#include <memory>
#include <span>

#include <nlohmann/json.hpp>

#include "guardian/adapters/adapter.hpp"
#include "guardian/common/reading.hpp"
#include "guardian/config/site_config.hpp"
#include "guardian/gateway/mqtt_uplink.hpp"
#include "guardian/gateway/outbox.hpp"
#include "guardian/gateway/pipeline.hpp"

namespace guardian::gateway {

/// Read-only references to everything health reports on (io_context thread only).
struct GatewayView {
  const config::SiteConfig& site;
  std::span<const std::unique_ptr<adapters::Adapter>> adapters;
  const Outbox& outbox;
  const MqttUplink& uplink;
  const Pipeline& pipeline;
  Timestamp started;
};

/// The health document (no envelope seq: health is live state, not queued).
[[nodiscard]] nlohmann::json health_json(const GatewayView& view, Timestamp now);

/// The health document plus the last value of every point ("values"), for `guardian status`.
[[nodiscard]] nlohmann::json status_json(const GatewayView& view, Timestamp now);

/// One reading as JSON, the same shape as in telemetry payloads.
[[nodiscard]] nlohmann::json reading_json(const Reading& reading);

}  // namespace guardian::gateway
