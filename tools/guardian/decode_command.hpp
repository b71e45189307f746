#pragma once
// guardian decode: the reference decoder of the compact payload (v2). Turns v2 telemetry (plain
// or deflated) back into v1 JSON, one document per line, given the schema messages of its
// sources (docs/telemetry.md "Compact payload (v2)"), and reassembles the chunks of each trace
// capture (v1 or v2) into one document with whole arrays (docs/telemetry.md "traces").
//
//   guardian decode FILE…          each file holds one MQTT payload; schemas are read first
//   mosquitto_sub -t 'guardian/v1/DEV/#' -F %x | guardian decode --hex-lines
//                                  one hex-encoded payload per line, decoded as they come

#include <iosfwd>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace guardian::tools {

struct DecodeOptions {
  std::vector<std::string> files;
  bool hex_lines = false;
};

void add_decode_options(CLI::App& command, DecodeOptions& options);

/// 0 when every payload decoded; 1 when one did not (each named on `err`, the rest still
/// decoded).
int run_decode(const DecodeOptions& options, std::istream& in, std::ostream& out, std::ostream& err);

}  // namespace guardian::tools
