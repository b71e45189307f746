#pragma once
/// \file
/// The local control socket (Unix domain, mode 0600, peers checked with SO_PEERCRED) that
/// `guardian status` and `guardian write -c` talk to. Protocol: one JSON request line in, one
/// JSON response line out (possibly later, e.g. once a write has been done):
///   → {"cmd":"status"}        ← {"ok":true,"status":{…}}
///   → {"cmd":"nope"}          ← {"ok":false,"error":"unknown command 'nope' (known: status)"}
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
