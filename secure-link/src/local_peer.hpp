#pragma once
/// \file
/// Who is on the other end of a loopback TCP connection. TCP has no SO_PEERCRED, so the tunnel
/// finds the peer's socket in /proc/net/tcp (the entry whose local address is the peer and
/// whose remote address is us) and looks for that socket's inode among this process's open
/// file descriptors. Private to secure-link.

#include <netinet/in.h>

#include <optional>

namespace guardian::secure_link {

/// True when the connection accepted as `accepted_fd` was opened by this very process (the
/// peer's socket is one of our own file descriptors). nullopt when /proc cannot tell (then the
/// caller refuses: unknown is not "ours").
[[nodiscard]] std::optional<bool> peer_is_this_process(int accepted_fd);

}  // namespace guardian::secure_link
