#pragma once
/// \file
/// The local control socket (Unix domain, mode 0600, peers checked with SO_PEERCRED) that
/// `guardian status`, `guardian write -c` and `guardian tail` talk to. Protocol: one JSON request
/// line in, one JSON response line out (possibly later, e.g. once a write has been done):
///   → {"cmd":"status"}        ← {"ok":true,"status":{…}}
///   → {"cmd":"nope"}          ← {"ok":false,"error":"unknown command 'nope' (known: status)"}
/// or, for a command with a stream handler (tail), JSON lines for as long as the client stays:
///   → {"cmd":"tail",…}        ← {"ok":true} ← {…} ← {…} …
///
///   start() ─▶ do_accept ─▶ on_accept ─▶ Session::do_read ─▶ on_read ─▶ handler ─▶ do_write ─▶ close
///                 ▲              │
///                 └──────────────┘

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "guardian/common/result.hpp"

namespace guardian::gateway {

/// The open connection of a streaming command (`guardian tail`): lines go out in order. A client
/// that reads slower than lines come is not allowed to grow the daemon's memory: beyond
/// kMaxBacklogBytes waiting, lines are dropped and counted, and a {"dropped":N} line tells the
/// client once it catches up. io_context thread only.
class ControlStream {
 public:
  static constexpr std::size_t kMaxBacklogBytes = 1u << 20;
  virtual ~ControlStream() = default;
  /// Queues one JSON line (without its newline); dropped when the backlog is full or closed.
  virtual void send(std::string line) = 0;
  /// True once the client went away or the server stopped: send nothing more, forget it.
  [[nodiscard]] virtual bool closed() const noexcept = 0;
};

class ControlServer {
 public:
  /// Answers one request (io_context thread). Returns the response object.
  using Handler = std::function<nlohmann::json(const nlohmann::json& request)>;
  /// Answers one request by calling `reply` once, now or later, on the io_context thread. A
  /// `reply` never called closes the connection without an answer.
  using AsyncHandler = std::function<void(const nlohmann::json& request,
                                          std::function<void(nlohmann::json)> reply)>;

  ControlServer(boost::asio::io_context& io, std::filesystem::path socket_path, Handler handler);
  ControlServer(boost::asio::io_context& io, std::filesystem::path socket_path,
                AsyncHandler handler);
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  /// Serves requests whose "cmd" is `cmd` as streams: `handler` gets the request and the open
  /// stream, sends the first line ({"ok":true} or an error, after which it should forget the
  /// stream) and then as many as it likes. At most kMaxStreams are open at once; one more is
  /// answered with an error. Call before start().
  static constexpr std::size_t kMaxStreams = 4;
  using StreamHandler =
      std::function<void(const nlohmann::json& request, std::shared_ptr<ControlStream> stream)>;
  void set_stream_handler(std::string cmd, StreamHandler handler);

  /// Creates the socket's directory if missing (mode 0750), removes a stale socket left by a
  /// crashed daemon, refuses to start when another daemon answers on it, binds with mode 0600.
  [[nodiscard]] result<void> start();
  /// Closes the listener and removes the socket file. Idempotent.
  void stop();

  /// Counters: requests answered, peers refused (wrong uid), malformed requests.
  struct Counters {
    std::uint64_t requests = 0;
    std::uint64_t refused = 0;
    std::uint64_t malformed = 0;
  };
  [[nodiscard]] const Counters& counters() const noexcept;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

/// Client side (used by `guardian status`): sends `request`, returns the response object.
/// Blocking, bounded by `timeout`. Errors say whether the daemon is not running, not reachable
/// (permissions) or answered garbage.
[[nodiscard]] result<nlohmann::json> control_request(const std::filesystem::path& socket_path,
                                                     const nlohmann::json& request,
                                                     std::chrono::milliseconds timeout);

}  // namespace guardian::gateway
