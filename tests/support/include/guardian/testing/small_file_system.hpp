#pragma once
/// \file
/// A size-limited tmpfs mounted on a directory for the life of the object, for tests of what
/// happens when a disk fills up. Mounting needs root or CAP_SYS_ADMIN: where it is not permitted,
/// mounted() is false and why_not() says why (tests then GTEST_SKIP with that reason).

#include <filesystem>
#include <string>

namespace guardian::testing {

class SmallFileSystem {
 public:
  /// Creates `where` and mounts a tmpfs of `size` (mount(8) syntax: "1m", "512k") on it.
  SmallFileSystem(const std::filesystem::path& where, const std::string& size);
  /// Unmounts (lazily: a process still holding a file there does not keep it mounted).
  ~SmallFileSystem();
  SmallFileSystem(const SmallFileSystem&) = delete;
  SmallFileSystem& operator=(const SmallFileSystem&) = delete;

  [[nodiscard]] bool mounted() const noexcept { return mounted_; }
  [[nodiscard]] const std::string& why_not() const noexcept { return why_not_; }
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

  /// Writes a file of `bytes` zeros (taking that much of the space), e.g. to leave little free.
  void fill(const std::string& name, std::size_t bytes) const;

 private:
  std::filesystem::path path_;
  bool mounted_ = false;
  std::string why_not_;
};

}  // namespace guardian::testing
