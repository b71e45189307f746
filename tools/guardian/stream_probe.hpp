#pragma once
/// \file
/// `guardian probe`: opens a serial port, a TCP connection or a UDP port exactly as a stream
/// adapter would, optionally sends one query, and shows what arrives — in hex and as escaped
/// ASCII — and, given a configured adapter's codec, what that codec decodes from it and what it
/// drops. Bounded in time. For field technicians working out (or checking) a protocol on site.

#include <chrono>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "guardian/config/stream_config.hpp"

namespace guardian::tools {

struct StreamProbeOptions {
  /// The link to open: transport, serial settings, host/port (a stream adapter's keys).
  config::StreamAdapterConfig link;
  /// Sent once the link is up (serial, TCP); empty = only listen.
  std::vector<std::uint8_t> send;
  /// How long to listen after the link is up (or after the send).
  std::chrono::milliseconds duration{5000};
  /// A codec to decode with, and where it came from (for the heading).
  std::optional<config::CodecConfig> codec;
  std::string codec_origin;
};

/// Runs the probe on its own io_context, printing to `out`. Returns 0 when the link opened (even
/// if nothing arrived), 2 when it could not be opened or connected. Not thread-safe.
int run_stream_probe(const StreamProbeOptions& options, std::ostream& out);

}  // namespace guardian::tools
