#pragma once
/// \file
/// `guardian scan modbus ENDPOINT [--units 1-247] [--bauds …] [--parities …] [--stop-bits …]`:
/// finds the unit ids that answer on a bus — and, on a serial line, the settings they answer
/// at — with one small read per unit, bounded by --max-time. Any answer proves a unit is there,
/// an exception included; a garbled one says that something talks at other settings.

#include <ostream>
#include <string>

#include "modbus_tool_options.hpp"

namespace guardian::tools {

struct ScanOptions {
  ModbusConnectionOptions connection;
  std::string units = "1-247";
  std::string bauds = "9600";
  std::string parities = "none";
  std::string stop_bits = "1";
  std::string read = "holding:0:1";
  std::string max_time = "60s";
};

/// Adds the scan's options to `command` (its --timeout defaults to 100ms).
void add_scan_options(CLI::App& command, ScanOptions& options);

/// Runs the scan: what answered to `out` as it is found, progress and problems to `err`.
/// Returns kExitOk when at least one unit answered, kExitDeviceError when none did.
[[nodiscard]] int run_modbus_scan(const ScanOptions& options, std::ostream& out, std::ostream& err);

}  // namespace guardian::tools
