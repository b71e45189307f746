#include "certificate_keeper.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "guardian/common/log.hpp"
#include "guardian/common/time_format.hpp"
#include "guardian/secure_link/crypto.hpp"
#include "guardian/secure_link/measurement_log.hpp"
#include "guardian/secure_link/tpm_structures.hpp"

namespace guardian::secure_link {
namespace {

using std::chrono::system_clock;
namespace fs = std::filesystem;

constexpr const char* kCertificateFile = "certificate.pem";
constexpr const char* kApprovalFile = "approval.json";
constexpr const char* kLog = "secure-link";
// The renewal thread re-evaluates at least this often, so a wall-clock jump (NTP at boot) does
// not leave it asleep past a renewal.
constexpr std::chrono::seconds kLongestSleep{30};
// current() looks at its cancel fd this often while the renewal thread holds the attestation.
constexpr std::chrono::milliseconds kInterruptCheck{50};

// A certificate is "valid" for use until shortly before it expires, so that a handshake does
// not start with a certificate about to lapse.
std::chrono::milliseconds expiry_margin(const IssuedCertificate& c) {
  const auto lifetime = c.not_after - c.not_before;
  return std::min<std::chrono::milliseconds>(std::chrono::seconds{30}, lifetime / 10);
}

bool usable(const IssuedCertificate& c) { return now_ms() + expiry_margin(c) < c.not_after; }

nlohmann::json approval_json(const IssuedCertificate& c) {
  return {{"certificate_serial", c.serial},
          {"pcr", c.approval->pcr},
          {"pcr_digest", to_hex(c.approval->pcr_digest)},
          {"signature", to_base64(c.approval->signature)}};
}

// The approval stored with the certificate `serial`, if it is there and well-formed.
std::optional<PolicyApproval> read_approval(const fs::path& file, const std::string& serial) {
  auto text = read_text_file(file);
  if (!text) return std::nullopt;
  const auto j = nlohmann::json::parse(text.value(), nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || j.value("certificate_serial", std::string{}) != serial ||
      !j.contains("pcr") || !j["pcr"].is_number_unsigned())
    return std::nullopt;
  auto digest = from_hex(j.value("pcr_digest", std::string{}));
  auto signature = from_base64(j.value("signature", std::string{}));
  if (!digest || digest.value().size() != 32 || !signature) return std::nullopt;
  return PolicyApproval{j["pcr"].get<unsigned>(), std::move(digest).value(), std::move(signature).value()};
}

}  // namespace

CertificateKeeper::CertificateKeeper(const config::SecureLinkConfig& cfg, Identity& identity)
    : cfg_(cfg),
      identity_(identity),
      client_(cfg.trust_service, cfg.device_id),
      stop_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
      backoff_(cfg.certificate.retry_min, cfg.certificate.retry_max) {}

CertificateKeeper::~CertificateKeeper() {
  stop();
  if (stop_fd_ >= 0) ::close(stop_fd_);
}

void CertificateKeeper::start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { run(); });
}

void CertificateKeeper::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  const std::uint64_t one = 1;
  if (stop_fd_ >= 0) (void)!::write(stop_fd_, &one, sizeof one);
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::optional<IssuedCertificate> CertificateKeeper::peek() const {
  std::lock_guard lock(mutex_);
  return current_;
}

std::string CertificateKeeper::last_error() const {
  std::lock_guard lock(mutex_);
  return last_error_;
}

bool CertificateKeeper::usable_now(const IssuedCertificate& c) {
  if (!usable(c)) return false;
  if (identity_.backend() == config::IdentityBackend::software) return true;
  if (!c.approval) return false;
  // One TPM2_PCR_Read: the TLS key will sign only if the PCR still holds the approved state.
  auto value = identity_.read_pcr(c.approval->pcr);
  if (!value) return false;
  const auto digest = quote_pcr_digest(value.value());
  return std::equal(digest.begin(), digest.end(), c.approval->pcr_digest.begin(),
                    c.approval->pcr_digest.end());
}

result<IssuedCertificate> CertificateKeeper::current(int cancel_fd) {
  // Without attest_mutex_: a renewal in progress (which may wait seconds for an absent trust
  // service) must not hold up a tunnel that still has a good certificate.
  std::optional<IssuedCertificate> candidate;
  {
    std::lock_guard lock(mutex_);
    candidate = current_;
  }
  if (candidate && usable_now(*candidate)) return *candidate;
  // The renewal thread may be attesting (seconds, against an absent trust service): wait for it
  // in steps, so that an interruption is seen.
  std::unique_lock attest_lock(attest_mutex_, std::defer_lock);
  while (!attest_lock.try_lock_for(kInterruptCheck)) {
    pollfd p{cancel_fd, POLLIN, 0};
    if (cancel_fd >= 0 && ::poll(&p, 1, 0) > 0)
      return make_errno_error(ECANCELED, "waiting for an attestation interrupted: the gateway is stopping");
  }
  load_stored_certificate();
  {
    // Someone else may have attested while this call waited for the mutex.
    std::lock_guard lock(mutex_);
    candidate = current_;
  }
  if (candidate && usable_now(*candidate)) return *candidate;
  return attest_locked(cancel_fd);
}

// Caller holds attest_mutex_. Once per process: what runs is measured into the PCR (appended
// to this boot's log unless the last start measured the same); afterwards only checked.
result<void> CertificateKeeper::ensure_measured() {
  const auto pcr = static_cast<unsigned>(cfg_.attestation.pcr);
  if (measured_) return check_measurements(identity_, pcr, event_log_);
  const auto targets = measurement_targets(cfg_);
  BOOST_OUTCOME_TRY(log, measure(identity_, pcr, targets, cfg_.attestation.event_log));
  event_log_ = std::move(log);
  measured_ = true;
  ++counters_.measurements;
  return outcome::success();
}

// Caller holds attest_mutex_. Idempotent: only the first call reads the file.
void CertificateKeeper::load_stored_certificate() {
  if (tls_public_der_) return;  // already looked (the keys are read on the way)
  // Measured first: a start with another binary or configuration changes the PCR, and the
  // stored approval (and with it the certificate) no longer applies.
  if (auto measured = ensure_measured(); !measured) {
    std::lock_guard lock(mutex_);
    last_error_ = measured.error().describe();
  }
  auto keys = identity_.find_keys();
  if (!keys || !keys.value()) return;  // attest_locked() will report it
  tls_public_der_ = keys.value()->tls_public_der;
  auto pem = read_text_file(cfg_.state_dir / kCertificateFile);
  if (!pem) return;
  auto chain = X509Chain::from_pem(pem.value());
  if (!chain) return;
  Bytes subject_key(4096);
  const int n = mbedtls_pk_write_pubkey_der(&chain.value()->get()->pk, subject_key.data(),
                                            subject_key.size());
  if (n < 0 || Bytes(subject_key.end() - n, subject_key.end()) != *tls_public_der_ ||
      certificate_common_name(*chain.value()->get()) != cfg_.device_id)
    return;  // left by another identity: ignore it, a new one replaces it
  auto issued = parse_issued_certificate(std::move(pem).value());
  if (!issued || !usable(issued.value())) return;
  if (identity_.backend() == config::IdentityBackend::tpm) {
    issued.value().approval = read_approval(cfg_.state_dir / kApprovalFile, issued.value().serial);
    if (!issued.value().approval || !identity_.use_approval(*issued.value().approval)) return;
  }
  log::info(kLog, "using the stored certificate " + issued.value().serial + ", valid until " +
                      format_rfc3339(issued.value().not_after));
  std::lock_guard lock(mutex_);
  if (!current_) current_ = std::move(issued).value();
}

// Caller holds attest_mutex_.
result<IssuedCertificate> CertificateKeeper::attest_locked(int cancel_fd) {
  auto attempt = [&]() -> result<IssuedCertificate> {
    if (!tls_public_der_) {
      BOOST_OUTCOME_TRY(keys, identity_.find_keys());
      if (!keys)
        return make_error("the identity is not provisioned (" + identity_.location() +
                          "); run `guardian identity provision` and enroll the record");
      tls_public_der_ = keys->tls_public_der;
    }
    const auto pcr = static_cast<unsigned>(cfg_.attestation.pcr);
    BOOST_OUTCOME_TRY(ensure_measured());
    BOOST_OUTCOME_TRY(issued, client_.attest(identity_, *tls_public_der_, pcr, event_log_,
                                             std::chrono::duration_cast<std::chrono::seconds>(
                                                 cfg_.certificate.lifetime),
                                             cancel_fd));
    if (identity_.backend() == config::IdentityBackend::tpm) {
      if (!issued.approval)
        return make_error("the trust service sent no approval of this PCR state with the "
                          "certificate (is it older than this gateway?): the TPM key cannot "
                          "sign without one");
      BOOST_OUTCOME_TRY(identity_.use_approval(*issued.approval));
    }
    std::error_code ec;
    if (fs::create_directories(cfg_.state_dir, ec)) ::chmod(cfg_.state_dir.c_str(), 0700);
    // The approval first: a certificate stored without its approval is ignored at the next
    // start, never used with a stale one. Both are public; storing them lets a restart reuse
    // them while the service is away.
    if (issued.approval) {
      if (auto stored = write_file_atomically(cfg_.state_dir / kApprovalFile,
                                              approval_json(issued).dump(), 0600);
          !stored)
        log::warn(kLog, "cannot store the approval: " + stored.error().describe());
    }
    if (auto stored = write_file_atomically(cfg_.state_dir / kCertificateFile,
                                            issued.certificate_pem, 0644);
        !stored)
      log::warn(kLog, "cannot store the certificate: " + stored.error().describe());
    return issued;
  };

  auto issued = attempt();
  std::lock_guard lock(mutex_);
  if (!issued) {
    ++counters_.attestation_failures;
    last_error_ = issued.error().describe();
    log::warn(kLog, "attestation failed: " + last_error_);
    return issued.error();
  }
  ++counters_.attestations;
  last_error_.clear();
  backoff_.reset();
  current_ = issued.value();
  log::info(kLog, "certificate " + issued.value().serial + " issued for " + cfg_.device_id +
                      ", valid until " + format_rfc3339(issued.value().not_after));
  return issued;
}

system_clock::time_point CertificateKeeper::renewal_due(const IssuedCertificate& c) const {
  const auto lifetime = std::chrono::duration<double, std::milli>(c.not_after - c.not_before);
  return c.not_before + std::chrono::duration_cast<std::chrono::milliseconds>(
                            lifetime * cfg_.certificate.renew_at);
}

void CertificateKeeper::run() {
  // Attest at start, even with a stored certificate (what runs may have changed since it was
  // issued) — unless current() already did, before this thread got attest_mutex_.
  auto due = system_clock::now();
  std::string due_for_serial;  // the certificate `due` was computed from ("" = a retry)
  {
    std::lock_guard attest_lock(attest_mutex_);
    load_stored_certificate();
    std::lock_guard lock(mutex_);
    due_for_serial = current_ ? current_->serial : std::string("(none)");
    if (current_ && counters_.attestations > 0) due = renewal_due(*current_);
  }
  while (true) {
    {
      std::unique_lock lock(mutex_);
      // A certificate obtained by current() in the meantime moves the next renewal.
      if (current_ && !due_for_serial.empty() && current_->serial != due_for_serial) {
        due = renewal_due(*current_);
        due_for_serial = current_->serial;
      }
      const auto now = system_clock::now();
      if (!stopping_ && now < due) {
        wake_.wait_for(lock, std::min<system_clock::duration>(due - now, kLongestSleep));
        continue;
      }
      if (stopping_) return;
    }
    std::lock_guard attest_lock(attest_mutex_);
    {
      // current() may have attested while this thread waited for attest_mutex_ (at start, the
      // tunnel's first open() races with this thread): then the loop recomputes the due time
      // from that certificate instead of attesting twice.
      std::lock_guard lock(mutex_);
      if (current_ && !due_for_serial.empty() && current_->serial != due_for_serial) continue;
    }
    if (auto issued = attest_locked(stop_fd_)) {
      due = renewal_due(issued.value());
      due_for_serial = issued.value().serial;
    } else {
      due = system_clock::now() + backoff_.next();
      due_for_serial.clear();
    }
  }
}

}  // namespace guardian::secure_link
