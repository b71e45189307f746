#pragma once
/// \file
/// Shared helpers of the queue and uplink tests: realistic messages, queue configurations in a
/// temporary directory, opening a store, and running an io_context until an observable condition holds.

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "guardian/common/reading.hpp"
#include "guardian/config/site_config.hpp"
#include "guardian/gateway/outbox_message.hpp"
#include "guardian/gateway/outbox_store.hpp"
#include "guardian/gateway/payload.hpp"
#include "guardian/testing/environment.hpp"

namespace guardian::gateway::test {

/// A telemetry message from `source` holding `readings` readings (a realistic encoded body).
inline PendingMessage telemetry_message(const std::string& source, std::uint32_t readings,
                                        std::int64_t base_ms = 1'795'680'000'000) {
  std::vector<Reading> rs;
  rs.reserve(readings);
  for (std::uint32_t i = 0; i < readings; ++i)
    rs.push_back(Reading{source,
                         "point_" + std::to_string(i),
                         20.0 + i * 0.25,
                         "degC",
                         Quality::good,
                         Timestamp{std::chrono::milliseconds{base_ms + i}},
                         {}});
  return encode_telemetry(source, rs);
}

/// A queue in `dir` with the given synchronous level and a short commit window.
inline config::QueueConfig queue_config(const testing::TempDir& dir,
                                        config::SyncMode sync = config::SyncMode::full) {
  config::QueueConfig c;
  c.path = dir / "queue.db";
  c.synchronous = sync;
  c.commit_window = std::chrono::milliseconds{5};
  return c;
}

/// Opens the store of `c`; a failure is reported as a test failure (and value() then throws).
inline OutboxStore open_store(const config::QueueConfig& c) {
  auto r = OutboxStore::open(c);
  if (!r) ADD_FAILURE() << r.error().describe();
  return std::move(r).value();
}

/// A site "store-042" whose uplink goes to `broker_uri` with quick reconnects, queue in `dir`.
inline config::SiteConfig site_config(const testing::TempDir& dir, const std::string& broker_uri) {
  config::SiteConfig site;
  site.device_id = "store-042";
  site.queue = queue_config(dir);
  site.uplink.broker = broker_uri;
  site.uplink.reconnect_min = std::chrono::milliseconds{100};
  site.uplink.reconnect_max = std::chrono::milliseconds{400};
  site.uplink.keepalive = std::chrono::seconds{5};
  return site;
}

/// Runs `io` (on the calling thread) until `condition` holds or `deadline` passes; returns the
/// condition. Handlers run while waiting, so this is how a test waits for an asynchronous result.
inline bool run_io_until(boost::asio::io_context& io, const std::function<bool()>& condition,
                         std::chrono::milliseconds deadline) {
  // The guard keeps run_for() waiting for handlers (posted from worker or Paho threads) instead of
  // returning at once when the queue is momentarily empty.
  auto guard = boost::asio::make_work_guard(io);
  const auto end = std::chrono::steady_clock::now() + deadline;
  io.restart();
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= end) return condition();
    io.run_for(std::chrono::milliseconds{5});
  }
  return true;
}

}  // namespace guardian::gateway::test
