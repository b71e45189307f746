#pragma once
/// \file
/// `guardian probe modbus ENDPOINT --unit N --read TABLE:ADDRESS:COUNT`: reads a block of
/// registers once and shows them raw (hex, decimal, bits) and decoded every plausible way — 16,
/// 32 and 64-bit integers and floats in each word order, and text — so that a technician with a
/// vague manual can see which reading makes sense ("92.5 °C, that must be float32 CDAB").

#include <ostream>
#include <string>

#include "modbus_tool_options.hpp"

namespace guardian::tools {

struct ProbeOptions {
  ModbusConnectionOptions connection;
  int unit = 1;
  std::string read = "holding:0:10";
  int address_base = 0;
  std::string type;   ///< only this decoding (int16 … float64, string); empty: all
  std::string order;  ///< only this word order (ABCD, CDAB, BADC, DCBA); empty: all
};

/// Adds the probe's options to `command`.
void add_probe_options(CLI::App& command, ProbeOptions& options);

/// Runs the probe; the tables go to `out`, errors (with what to check) to `err`. Returns an
/// exit code (tool_exit_codes.hpp).
[[nodiscard]] int run_modbus_probe(const ProbeOptions& options, std::ostream& out,
                                   std::ostream& err);

}  // namespace guardian::tools
