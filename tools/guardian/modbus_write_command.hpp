#pragma once
/// \file
/// `guardian write modbus ENDPOINT --unit N --table holding --address A --type T [--order …]
/// [--scale …] --value V`: writes one value on site, encoded exactly as the adapter would
/// (prepare_write / execute_write: the same type, order, scale and function choice), and reads
/// it back. For a point of the configuration, `guardian write -c FILE SOURCE POINT VALUE` goes
/// through the running daemon instead (control_write.hpp).

#include <ostream>
#include <string>

#include "modbus_tool_options.hpp"

namespace guardian::tools {

struct WriteModbusOptions {
  ModbusConnectionOptions connection;
  int unit = 1;
  std::string table = "holding";
  int address = -1;
  std::string type;  ///< empty: bool for a coil, uint16 for a register
  std::string order = "ABCD";
  double scale = 1.0;
  double offset = 0.0;
  int bit = 0;
  int length = 0;
  std::string value;
  int address_base = 0;
  bool write_multiple = false;
  bool no_readback = false;
};

/// Adds the write's options to `command`.
void add_write_modbus_options(CLI::App& command, WriteModbusOptions& options);

/// Runs the write: what was sent and what reads back to `out`, errors to `err`. Returns an exit
/// code (tool_exit_codes.hpp).
[[nodiscard]] int run_modbus_write(const WriteModbusOptions& options, std::ostream& out,
                                   std::ostream& err);

}  // namespace guardian::tools
