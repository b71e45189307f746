#pragma once
/// \file
/// Keeps the device's short-lived certificate valid: measures once per process (into the log of
/// this boot, measurement_log.hpp), attests at start, renews at `renew_at` of the lifetime with
/// back-off while the trust service is away, and keeps the old certificate for as long as it is
/// still valid — and, for a TPM identity, for as long as the PCR still holds the state the
/// fleet approved with it (the TLS key signs nothing otherwise). Private to secure-link.
///
///   renewal thread                              callers (the tunnel's open())
///   ──────────────                              ─────────────────────────────
///   due? ── attest_locked() ──▶ current_        current(): valid certificate, or attest now
///    │ ok: next due = not_before + renew_at·lifetime
///    │ failed: next due = now + back-off
///    └─ wait (condition variable, bounded) until due or stop
///
/// attest_locked() runs under attest_mutex_: one attestation at a time, whoever asks.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "guardian/common/backoff.hpp"
#include "guardian/config/secure_link_config.hpp"
#include "guardian/secure_link/attestation_client.hpp"
#include "guardian/secure_link/identity.hpp"

namespace guardian::secure_link {

/// Counters for health (LinkInfo::counters). Thread-safe reads.
struct KeeperCounters {
  std::atomic<std::uint64_t> attestations{0};         ///< certificates received
  std::atomic<std::uint64_t> attestation_failures{0};
  std::atomic<std::uint64_t> measurements{0};         ///< times this process measured
};

class CertificateKeeper {
 public:
  /// `identity` must outlive the keeper. Loads a still-valid certificate left by a previous run
  /// from state_dir (if it is for this device and key). Does not start the renewal thread.
  CertificateKeeper(const config::SecureLinkConfig& cfg, Identity& identity);
  ~CertificateKeeper();
  CertificateKeeper(const CertificateKeeper&) = delete;
  CertificateKeeper& operator=(const CertificateKeeper&) = delete;

  /// Starts the renewal thread: it attests at once, then renews before expiry.
  void start();
  /// Stops and joins the renewal thread, interrupting an attestation it is waiting on.
  /// Idempotent.
  void stop();

  /// A certificate valid now: the current one, or — when there is none or it has expired — the
  /// result of attesting now (blocking). Errors say why no certificate could be had. A readable
  /// `cancel_fd` (≥ 0) makes it return at once with ECANCELED, also while it waits for the
  /// renewal thread's attestation.
  [[nodiscard]] result<IssuedCertificate> current(int cancel_fd = -1);

  /// The current certificate without attesting (nullopt when there is none).
  [[nodiscard]] std::optional<IssuedCertificate> peek() const;
  /// The last attestation error ("" after a success).
  [[nodiscard]] std::string last_error() const;
  [[nodiscard]] const KeeperCounters& counters() const noexcept { return counters_; }

 private:
  void run();
  result<IssuedCertificate> attest_locked(int cancel_fd);
  void load_stored_certificate();
  result<void> ensure_measured();
  /// `c` valid now, and the PCR in the state its approval covers (TPM identities).
  [[nodiscard]] bool usable_now(const IssuedCertificate& c);
  [[nodiscard]] std::chrono::system_clock::time_point renewal_due(const IssuedCertificate& c) const;

  const config::SecureLinkConfig cfg_;
  Identity& identity_;
  AttestationClient client_;

  mutable std::mutex mutex_;  // current_, last_error_, stopping_
  std::condition_variable wake_;
  std::optional<IssuedCertificate> current_;
  std::string last_error_;
  bool stopping_ = false;

  int stop_fd_ = -1;  // eventfd, readable once stop() began: interrupts the renewal's waits
  std::timed_mutex attest_mutex_;  // one attestation at a time; guards the fields below
  std::optional<Bytes> tls_public_der_;
  std::vector<Measurement> event_log_;
  bool measured_ = false;
  Backoff backoff_;

  KeeperCounters counters_;
  std::thread thread_;
};

}  // namespace guardian::secure_link
