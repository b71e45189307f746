#pragma once
/// \file
/// Temporary directories, free loopback ports and bounded waits (STYLE.md: never sleep to
/// synchronise — wait for an event with a deadline).

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

namespace guardian::testing {

/// A fresh directory under $TMPDIR (default /tmp), removed with its content on destruction
/// unless GUARDIAN_KEEP_TMP is set in the environment (for post-mortems).
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "guardian-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
  [[nodiscard]] std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

/// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0 and released).
[[nodiscard]] std::uint16_t free_tcp_port();

/// A TCP port P on 127.0.0.1 such that P and P+1 were both free a moment ago (swtpm's server
/// and control ports).
[[nodiscard]] std::uint16_t free_tcp_port_pair();

/// Polls `condition` every `poll` until it is true or `deadline` passes. Returns the last result.
/// Use it to wait on observable state (a file, a port, a counter) — never as a sleep.
bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds deadline,
                std::chrono::milliseconds poll = std::chrono::milliseconds{10});

/// True once a TCP connect to 127.0.0.1:port succeeds, within `deadline`.
bool wait_for_tcp_port(std::uint16_t port, std::chrono::milliseconds deadline);

/// Whole content of a file ("" if missing).
[[nodiscard]] std::string read_file(const std::filesystem::path& path);

/// Writes `content` to `path` (truncating), creating parent directories.
void write_file(const std::filesystem::path& path, const std::string& content);

/// Absolute path of a file in the source tree (GUARDIAN_SOURCE_DIR is compiled in).
[[nodiscard]] std::filesystem::path source_path(const std::string& relative);

/// Absolute path of a built executable, e.g. binary_path("guardian").
[[nodiscard]] std::filesystem::path binary_path(const std::string& name);

}  // namespace guardian::testing
