#pragma once
/// \file
/// Minimal structured logging to stderr (journald captures it under systemd). One write(2) per
/// line, so lines from different threads never interleave. Never log secrets.

#include <string_view>

namespace guardian::log {

enum class Level : int { debug = 0, info = 1, warn = 2, error = 3 };

/// Lines below `level` are discarded. Thread-safe.
void set_level(Level level) noexcept;
[[nodiscard]] Level level() noexcept;

/// "2026-11-26T15:00:55.123Z info  [component] message"
void write(Level level, std::string_view component, std::string_view message) noexcept;

inline void debug(std::string_view component, std::string_view message) noexcept {
  write(Level::debug, component, message);
}
inline void info(std::string_view component, std::string_view message) noexcept {
  write(Level::info, component, message);
}
inline void warn(std::string_view component, std::string_view message) noexcept {
  write(Level::warn, component, message);
}
inline void error(std::string_view component, std::string_view message) noexcept {
  write(Level::error, component, message);
}

}  // namespace guardian::log
