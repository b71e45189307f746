#pragma once
/// \file
/// `guardian write -c FILE SOURCE POINT VALUE [--readback]`: writes a point of the
/// configuration through the running daemon's control socket, so that it goes through the
/// bus's own scheduler (a serial bus has one master) with the point's type, scale, limits and
/// writable flag. When the daemon is not running, says how to write the same register directly
/// with `guardian write modbus`.

#include <filesystem>
#include <ostream>
#include <string>

namespace guardian::tools {

struct ControlWriteOptions {
  std::filesystem::path config;
  std::string socket;  ///< overrides control.socket of the configuration
  std::string source;
  std::string point;
  std::string value;
  bool readback = false;
};

/// Runs the write; the outcome to `out`, errors to `err`. Exit codes: 0 written, 1 invalid
/// configuration or arguments, 3 daemon not reachable, 4 the write failed.
[[nodiscard]] int run_control_write(const ControlWriteOptions& options, std::ostream& out,
                                    std::ostream& err);

}  // namespace guardian::tools
