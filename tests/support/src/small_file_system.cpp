#include "guardian/testing/small_file_system.hpp"

#include <sys/mount.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

namespace guardian::testing {

SmallFileSystem::SmallFileSystem(const std::filesystem::path& where, const std::string& size)
    : path_(where) {
  std::filesystem::create_directories(where);
  const std::string options = "size=" + size;
  if (::mount("tmpfs", where.c_str(), "tmpfs", 0, options.c_str()) == 0)
    mounted_ = true;
  else
    why_not_ = "mount -t tmpfs -o " + options + " failed: " + std::strerror(errno) +
               " (needs root or CAP_SYS_ADMIN)";
}

SmallFileSystem::~SmallFileSystem() {
  if (mounted_) ::umount2(path_.c_str(), MNT_DETACH);
}

void SmallFileSystem::fill(const std::string& name, std::size_t bytes) const {
  std::ofstream out(path_ / name, std::ios::binary);
  const std::string chunk(64 * 1024, '\0');
  for (std::size_t written = 0; written < bytes; written += chunk.size())
    out.write(chunk.data(), static_cast<std::streamsize>(std::min(chunk.size(), bytes - written)));
}

}  // namespace guardian::testing
