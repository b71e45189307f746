#pragma once
// guardian tail: the live readings and records of the running daemon, as its adapters deliver
// them (before edge processing), filtered by source and point, with quality and errors — what a
// technician watches while a machine brews. Runs until Ctrl-C or until the daemon stops.
//
//   guardian tail [-c FILE | --socket PATH] [--source NAME]… [--point NAME]… [--json]

#include <iosfwd>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace guardian::tools {

struct TailOptions {
  std::string config = "/etc/guardian/guardian.yaml";
  std::string socket;
  std::vector<std::string> sources;
  std::vector<std::string> points;
  bool json = false;
};

void add_tail_options(CLI::App& command, TailOptions& options);

/// 3 when the daemon cannot be reached or refuses, 1 for a configuration that does not load, 0
/// when the daemon stopped (the stream ended).
int run_tail(const TailOptions& options, std::ostream& out, std::ostream& err);

/// One line of the stream as a technician reads it ("12:00:01.250  espresso-1  boiler_temp  93.2
/// degC"), or "" for a line that is not a reading, a record or a drop notice.
[[nodiscard]] std::string format_tail_line(const std::string& json_line);

}  // namespace guardian::tools
