#pragma once
/// \file
/// The exit codes of the field-technician tools (`guardian probe|scan|write`), the same for every
/// kind of equipment so that a script can tell a typo from a silent device.

namespace guardian::tools {

inline constexpr int kExitOk = 0;
inline constexpr int kExitUsage = 1;          ///< bad arguments (the message says which)
inline constexpr int kExitNoDaemon = 3;       ///< the daemon is not running or not reachable
inline constexpr int kExitDeviceError = 4;    ///< no answer, an exception, nothing found
inline constexpr int kExitCannotConnect = 5;  ///< connection refused, port missing or busy

}  // namespace guardian::tools
