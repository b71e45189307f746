#include "local_peer.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>

namespace guardian::secure_link {
namespace {

// /proc/net/tcp prints an IPv4 address as the 32-bit value in host byte order ("%08X"), and the
// port in host order ("%04X"), e.g. 127.0.0.1:8883 → "0100007F:22B3" on a little-endian host.
std::string proc_address(const sockaddr_in& a) {
  char text[16];
  std::snprintf(text, sizeof text, "%08X:%04X", a.sin_addr.s_addr, ntohs(a.sin_port));
  return text;
}

std::optional<unsigned long> find_peer_inode(const sockaddr_in& peer, const sockaddr_in& self) {
  std::ifstream table("/proc/net/tcp");
  if (!table) return std::nullopt;
  const std::string want_local = proc_address(peer);
  const std::string want_remote = proc_address(self);
  std::string line;
  std::getline(table, line);  // header
  while (std::getline(table, line)) {
    // "  sl  local_address rem_address   st tx_queue:rx_queue tr:tm->when retrnsmt   uid  timeout inode"
    char local[64] = {};
    char remote[64] = {};
    unsigned long inode = 0;
    if (std::sscanf(line.c_str(), " %*u: %63s %63s %*x %*x:%*x %*x:%*x %*x %*u %*u %lu", local,
                    remote, &inode) != 3)
      continue;
    if (want_local == local && want_remote == remote) return inode;
  }
  return std::nullopt;
}

struct CloseDir {
  void operator()(DIR* d) const noexcept { ::closedir(d); }
};

bool own_fd_has_inode(unsigned long inode) {
  std::unique_ptr<DIR, CloseDir> dir(::opendir("/proc/self/fd"));
  if (!dir) return false;
  const std::string want = "socket:[" + std::to_string(inode) + "]";
  std::array<char, 64> target{};
  while (const dirent* entry = ::readdir(dir.get())) {
    if (entry->d_name[0] == '.') continue;
    const std::string path = std::string("/proc/self/fd/") + entry->d_name;
    const ssize_t n = ::readlink(path.c_str(), target.data(), target.size() - 1);
    if (n <= 0) continue;
    if (want == std::string_view(target.data(), static_cast<std::size_t>(n))) return true;
  }
  return false;
}

}  // namespace

std::optional<bool> peer_is_this_process(int accepted_fd) {
  sockaddr_in peer{};
  sockaddr_in self{};
  socklen_t length = sizeof peer;
  if (::getpeername(accepted_fd, reinterpret_cast<sockaddr*>(&peer), &length) != 0 ||
      peer.sin_family != AF_INET)
    return std::nullopt;
  length = sizeof self;
  if (::getsockname(accepted_fd, reinterpret_cast<sockaddr*>(&self), &length) != 0)
    return std::nullopt;
  const auto inode = find_peer_inode(peer, self);
  // Not found: the peer is in another network namespace, or already gone.
  if (!inode) return std::nullopt;
  return own_fd_has_inode(*inode);
}

}  // namespace guardian::secure_link
