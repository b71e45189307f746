#pragma once
/// \file
/// The Link of a secure_link configuration: an mTLS tunnel to the broker whose client key is the
/// TPM identity and whose certificate comes from attestation. Paho cannot be given a key it
/// cannot read, so it speaks plain MQTT to a one-connection listener on 127.0.0.1 that this
/// link owns, and the link carries the bytes over its own TLS session. Private to secure-link.
///
///   open() (connect worker)                       session thread (one per open())
///   ───────────────────────                       ───────────────────────────────
///   keeper.current() — attest if needed
///   TLS 1.2 to the broker (TPM signs)
///   listen 127.0.0.1:0 ─── start ───────────────▶ accept: peer socket in /proc/self/fd?
///   return tcp://127.0.0.1:port                     no  → close it, count refused_local_connections
///   Paho connects ───────────────────────────────▶  yes → close the listener; pump
///                                                   Paho ⇄ TLS until either side closes, close(),
///                                                   or the session's certificate expires
///   close() ── eventfd ─────────────────────────▶ stop, join

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "certificate_keeper.hpp"
#include "guardian/config/secure_link_config.hpp"
#include "guardian/secure_link/identity.hpp"
#include "guardian/secure_link/link.hpp"
#include "guardian/secure_link/tls_session.hpp"

namespace guardian::secure_link {

/// Counters of the tunnel (LinkInfo::counters).
struct TunnelCounters {
  std::atomic<std::uint64_t> sessions{0};                  ///< TLS sessions to the broker opened
  std::atomic<std::uint64_t> handshake_failures{0};
  std::atomic<std::uint64_t> refused_local_connections{0};  ///< another process tried the tunnel
  std::atomic<std::uint64_t> sessions_ended_at_expiry{0};  ///< closed when their certificate lapsed
  std::atomic<std::uint64_t> bytes_up{0};
  std::atomic<std::uint64_t> bytes_down{0};
};

class TunnelLink final : public Link {
 public:
  /// `broker_uri` is ssl://host:port (validated by the loader). Starts the renewal thread.
  TunnelLink(std::string broker_uri, const config::SecureLinkConfig& cfg);
  ~TunnelLink() override;

  /// A valid certificate (attesting if needed), a TLS session to the broker, and the local
  /// listener Paho should connect to. Errors say which of the three failed and why.
  [[nodiscard]] result<MqttEndpoint> open() override;
  /// Ends the session and the listener. Idempotent.
  void close() override;
  void interrupt() noexcept override;
  void resume() noexcept override;
  /// kind "tpm-tunnel"/"software-tunnel"; identity and expiry of the current certificate;
  /// counters of the keeper and the tunnel.
  [[nodiscard]] LinkInfo info() const override;

 private:
  void run_session(Socket listener, std::unique_ptr<TlsSession> tls, Timestamp not_after);
  void pump(Socket& local, TlsSession& tls, Timestamp not_after);

  const std::string broker_uri_;
  const config::SecureLinkConfig cfg_;
  std::string broker_host_;
  std::uint16_t broker_port_ = 0;
  std::unique_ptr<Identity> identity_;
  std::unique_ptr<CertificateKeeper> keeper_;
  TunnelCounters counters_;

  int stop_fd_ = -1;  // eventfd: close() wakes the session thread
  int interrupt_fd_ = -1;  // eventfd, readable between interrupt() and resume()
  std::thread session_;
  mutable std::mutex error_mutex_;
  std::string last_session_error_;
};

}  // namespace guardian::secure_link
