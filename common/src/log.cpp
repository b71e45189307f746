#include "guardian/common/log.hpp"

#include <unistd.h>

#include <atomic>
#include <string>

#include "guardian/common/time_format.hpp"

namespace guardian::log {
namespace {
std::atomic<int> g_level{static_cast<int>(Level::info)};

constexpr std::string_view name(Level l) {
  switch (l) {
    case Level::debug: return "debug";
    case Level::info: return "info ";
    case Level::warn: return "warn ";
    case Level::error: return "error";
  }
  return "?";
}
}  // namespace

void set_level(Level l) noexcept { g_level.store(static_cast<int>(l), std::memory_order_relaxed); }

Level level() noexcept { return static_cast<Level>(g_level.load(std::memory_order_relaxed)); }

void write(Level l, std::string_view component, std::string_view message) noexcept {
  if (static_cast<int>(l) < g_level.load(std::memory_order_relaxed)) return;
  try {
    std::string line;
    line.reserve(40 + component.size() + message.size());
    append_rfc3339(line, now_ms());
    line.push_back(' ');
    line.append(name(l));
    line.append(" [");
    line.append(component);
    line.append("] ");
    line.append(message);
    line.push_back('\n');
    const char* p = line.data();
    std::size_t left = line.size();
    while (left > 0) {
      const ssize_t n = ::write(STDERR_FILENO, p, left);
      if (n <= 0) break;
      p += n;
      left -= static_cast<std::size_t>(n);
    }
  } catch (...) {
    // Logging must never take the gateway down (allocation failure while formatting).
  }
}

}  // namespace guardian::log
