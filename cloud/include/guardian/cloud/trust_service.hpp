#pragma once
/// \file
/// The trust service: the protocol handler (TrustService), the keeper of the broker's
/// certificate revocation list (CrlPublisher) and the registry's purge; its TLS transport is
/// TrustServer (trust_server.hpp). Stateless apart from the Registry, so any number of replicas
/// may serve the same registry.
///
///   TrustServer worker ──▶ request line ──▶ TrustService::handle() ──▶ JSON response
///   CrlPublisher thread: every check_interval, if a revocation happened or the CRL is due for
///                        refresh: write it atomically, then run the on-update command
///                        (e.g. restart or signal the broker)

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "guardian/cloud/approval_signer.hpp"
#include "guardian/cloud/certificate_authority.hpp"
#include "guardian/cloud/periodic_thread.hpp"
#include "guardian/cloud/registry.hpp"
#include "guardian/secure_link/tls_session.hpp"
#include "guardian/secure_link/trust_protocol.hpp"

namespace guardian::cloud {

struct TrustServiceOptions {
  std::chrono::seconds nonce_lifetime{60};  ///< a nonce must come back within this long
  int max_outstanding_nonces = 4;           ///< per device; the oldest give way to new ones
};

/// What the service has done since it started (for its log and for tests).
struct TrustCounters {
  std::atomic<std::uint64_t> nonces{0};
  std::atomic<std::uint64_t> credentials{0};  ///< nonces sent as credentials to activate
  std::atomic<std::uint64_t> activations{0};  ///< devices that activated theirs
  std::atomic<std::uint64_t> certificates{0};
  std::atomic<std::uint64_t> refusals{0};
  std::atomic<std::uint64_t> unauthenticated_refusals{0};  ///< never written to the registry
};

/// The protocol of docs/secure-link.md ("Trust protocol"): ops "nonce", "attest", "ping".
/// Thread-safe.
class TrustService {
 public:
  TrustService(Registry& registry, CertificateAuthority& ca, ApprovalSigner& approver,
               TrustServiceOptions options);
  /// One request line in, one response object out ({"ok":true,…} or
  /// {"ok":false,"error":<TrustRefusal>,"message":…}). Never throws.
  [[nodiscard]] nlohmann::json handle(std::string_view line);
  [[nodiscard]] const TrustCounters& counters() const noexcept { return counters_; }

 private:
  nlohmann::json nonce(const secure_link::NonceRequest& request);
  nlohmann::json attest(const secure_link::AttestRequest& request);
  /// A refusal of a request not (yet) proven to come from the device it names: logged (at a
  /// bounded rate), never written to the registry; `answer` is what the client is told.
  nlohmann::json refuse(const Error& why, const Error& answer);
  nlohmann::json refuse(const Error& why) { return refuse(why, why); }
  /// A refusal of a request the device's attestation key signed: logged and audited.
  /// `running`: what the device's verified evidence showed it runs, if it got that far.
  nlohmann::json refuse_authenticated(const std::string& device, const Error& why,
                                      std::map<std::string, std::string> running = {});
  void log_limited(const std::string& line);

  Registry& registry_;
  CertificateAuthority& ca_;
  ApprovalSigner& approver_;
  TrustServiceOptions options_;
  TrustCounters counters_;
  std::mutex log_mutex_;  // the log budget below
  std::chrono::steady_clock::time_point log_window_{};
  int logged_in_window_ = 0;
  std::uint64_t suppressed_ = 0;
};

struct CrlOptions {
  std::filesystem::path file;                          ///< where the broker reads it (PEM)
  std::chrono::seconds validity{std::chrono::hours{24 * 7}};  ///< nextUpdate − thisUpdate
  std::chrono::seconds refresh{std::chrono::hours{24}};       ///< rewrite at least this often
  std::chrono::milliseconds check_interval{2000};      ///< how often to look for revocations
  std::string on_update;  ///< shell command run after each rewrite ("" = none)
  /// Also written with each CRL: the ids of revoked devices, one a line, for the broker's
  /// guardian_revocation plugin ("" = none).
  std::filesystem::path revoked_devices_file;
};

/// Keeps the CRL file current (see the file comment). Thread-safe.
class CrlPublisher {
 public:
  CrlPublisher(Registry& registry, CertificateAuthority& ca, CrlOptions options);
  ~CrlPublisher();
  CrlPublisher(const CrlPublisher&) = delete;
  CrlPublisher& operator=(const CrlPublisher&) = delete;

  /// Writes the CRL now (and runs on_update). Errors name the file or the command.
  [[nodiscard]] result<void> publish();
  /// Starts the maintenance thread (publishes at once unless publish() just did).
  void start();
  void stop();
  [[nodiscard]] std::uint64_t publications() const noexcept { return publications_; }

 private:
  void check();  // publishes when a revocation happened or the refresh is due

  Registry& registry_;
  CertificateAuthority& ca_;
  CrlOptions options_;
  std::mutex mutex_;
  std::atomic<std::uint64_t> publications_{0};
  std::int64_t published_epoch_ = -1;                      // guarded by mutex_
  std::chrono::steady_clock::time_point published_at_{};  // guarded by mutex_
  PeriodicThread thread_;
};

/// Keeps the registry bounded in time: every `interval`, nonces expired for an hour and audit
/// rows older than `audit_retention` are deleted. Starts with start(), stops with stop() or at
/// destruction.
class RegistryPurge {
 public:
  RegistryPurge(Registry& registry, std::chrono::milliseconds audit_retention,
                std::chrono::milliseconds interval = std::chrono::minutes{1});
  void start() { thread_.start(); }
  void stop() { thread_.stop(); }

 private:
  PeriodicThread thread_;
};

}  // namespace guardian::cloud
