#pragma once
/// \file
/// `guardian probe serial|tcp|udp`: opens a serial port, a TCP connection or a UDP port exactly
/// as a stream adapter would, optionally sends one query, and shows what arrives — in hex and as
/// escaped ASCII — and, given a configured adapter's codec, what that codec decodes from it and
/// what it drops. Bounded in time. For field technicians working out (or checking) a protocol on
/// site.

// CLI11 2.1's string splitting trips GCC 12's -Wnull-dereference (a false positive in inlined
// libstdc++ code); see tools/guardian-sim/main.cpp.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <CLI/CLI.hpp>
#pragma GCC diagnostic pop

#include <chrono>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "guardian/config/stream_config.hpp"
#include "tool_exit_codes.hpp"

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

/// Runs the probe on its own io_context, printing to `out`. Returns kExitOk when the link opened
/// (even if nothing arrived), kExitCannotConnect when it could not be opened or connected
/// (tool_exit_codes.hpp). Not thread-safe.
[[nodiscard]] int run_stream_probe(const StreamProbeOptions& options, std::ostream& out);

/// What one of `guardian probe serial|tcp|udp` was given on its command line.
struct StreamProbeArguments {
  std::string kind;  ///< serial, tcp, udp
  std::string target;
  int baud = 9600;
  std::string parity = "none", flow = "none";
  int data_bits = 8, stop_bits = 1;
  std::string send, send_hex, bind = "0.0.0.0", config_file, adapter;
  std::uint16_t listen = 0;
  double seconds = 5;
  CLI::App* command = nullptr;
};

/// The three subcommands, once added to `guardian probe`.
struct StreamProbeCommands {
  StreamProbeArguments serial, tcp, udp;
  /// The subcommand given on the command line, or nullptr.
  [[nodiscard]] const StreamProbeArguments* chosen() const;
};

/// Adds `serial`, `tcp` and `udp` with their options to `probe`.
void add_stream_probe_commands(CLI::App& probe, StreamProbeCommands& commands);

/// Turns the arguments into StreamProbeOptions — with `-c FILE --adapter NAME`, that adapter's
/// codec, poll query and (for the same kind of link) settings, the command line overriding them
/// — and runs the probe. Mistakes go to `err` (kExitUsage); else as run_stream_probe.
[[nodiscard]] int run_stream_probe_command(const StreamProbeArguments& arguments, std::ostream& out,
                                           std::ostream& err);

}  // namespace guardian::tools
