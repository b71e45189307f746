#include "guardian/cloud/trust_service.hpp"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>

#include "guardian/cloud/evidence.hpp"
#include "guardian/common/byte_text.hpp"
#include "guardian/common/log.hpp"
#include "guardian/common/time_format.hpp"
#include "guardian/secure_link/trust_protocol.hpp"

extern char** environ;

namespace guardian::cloud {
namespace {

using nlohmann::json;
using secure_link::TrustRefusal;
using std::chrono::steady_clock;

constexpr const char* kLog = "trust";
// A certificate's notBefore is set this far in the past (at most a tenth of its lifetime), so a
// broker whose clock is slightly behind the trust service's does not refuse a fresh certificate.
constexpr std::chrono::seconds kMaxBackdate{60};

Error refusal(TrustRefusal why, std::string message) {
  return make_error(make_error_code(why), std::move(message));
}

}  // namespace

// ───────────────────────────── TrustService ─────────────────────────────

TrustService::TrustService(Registry& registry, CertificateAuthority& ca, ApprovalSigner& approver,
                           TrustServiceOptions options)
    : registry_(registry), ca_(ca), approver_(approver), options_(options) {}

json TrustService::handle(std::string_view line) {
  auto request = secure_link::parse_trust_request(line);
  if (!request) return refuse(request.error());
  if (const auto* n = std::get_if<secure_link::NonceRequest>(&request.value())) return nonce(*n);
  if (const auto* a = std::get_if<secure_link::AttestRequest>(&request.value())) return attest(*a);
  return {{"ok", true}};
}

namespace {

TrustRefusal refusal_of(const Error& why) {
  return why.code.category() == secure_link::trust_category()
             ? static_cast<TrustRefusal>(why.code.value())
             : TrustRefusal::unavailable;
}

// How many refusals of unauthenticated requests are logged per second at most: anyone can send
// them, and the log must not become the thing that fills the disk.
constexpr int kLogLinesPerSecond = 20;
// What an audit row keeps of a refusal's message (a device's own event log paths are in it).
constexpr std::size_t kAuditMessageMax = 1024;

}  // namespace

void TrustService::log_limited(const std::string& line) {
  std::uint64_t suppressed = 0;
  {
    std::lock_guard lock(log_mutex_);
    const auto now = steady_clock::now();
    if (now - log_window_ >= std::chrono::seconds{1}) {
      log_window_ = now;
      logged_in_window_ = 0;
    }
    if (logged_in_window_ >= kLogLinesPerSecond) {
      ++suppressed_;
      return;
    }
    ++logged_in_window_;
    suppressed = std::exchange(suppressed_, 0);
  }
  if (suppressed > 0)
    log::warn(kLog, std::to_string(suppressed) + " more refusal(s) of unauthenticated requests were not logged");
  log::warn(kLog, line);
}

json TrustService::refuse(const Error& why, const Error& answer) {
  ++counters_.refusals;
  ++counters_.unauthenticated_refusals;
  log_limited("request refused: " + std::string(secure_link::to_string(refusal_of(why))) + ": " +
              printable(why.message, 300));
  return secure_link::refusal_json(refusal_of(answer), answer.message);
}

json TrustService::refuse_authenticated(const std::string& device, const Error& why,
                                        std::map<std::string, std::string> running) {
  ++counters_.refusals;
  const std::string reason(secure_link::to_string(refusal_of(why)));
  log::warn(kLog, device + " refused: " + reason + ": " + printable(why.message, 300));
  if (auto recorded = registry_.record_attestation(
          {device, now_ms(), reason + ": " + printable(why.message, kAuditMessageMax), std::move(running)});
      !recorded)
    log::error(kLog, recorded.error().describe());
  return secure_link::refusal_json(refusal_of(why), why.message);
}

// The enrolled device `id`, or the refusal to answer with. Before the device has proven who it
// is, the answer says nothing about the registry (is it enrolled? revoked, and why?): only the
// log has the particular reason.
namespace {
struct Enrolled {
  std::optional<DeviceRecord> device;
  Error why;     // for the log
  Error answer;  // for the client
};

Enrolled enrolled_device(Registry& registry, const std::string& id) {
  const auto not_accepted = refusal(
      TrustRefusal::not_accepted,
      "the trust service accepts no attestation for \"" + printable(id, 64) +
          "\": it is not enrolled, was revoked, or was enrolled by an earlier release "
          "(the fleet operator can tell which)");
  auto device = registry.device(id);
  if (!device) {
    const auto e = refusal(TrustRefusal::unavailable, device.error().describe());
    return {std::nullopt, e, e};
  }
  if (!device.value())
    return {std::nullopt, refusal(TrustRefusal::unknown_device, "no device \"" + printable(id, 64) + "\" is enrolled"),
            not_accepted};
  if (device.value()->revoked)
    return {std::nullopt, refusal(TrustRefusal::revoked, id + " was revoked: " + device.value()->revocation_reason),
            not_accepted};
  if (device.value()->backend == config::IdentityBackend::tpm && device.value()->ek_public.empty())
    return {std::nullopt,
            refusal(TrustRefusal::enrollment_outdated,
                    id + " was enrolled before endorsement checks: its keys have no policy. Run "
                         "`guardian identity provision --rotate` on it and enroll the new record "
                         "with --replace"),
            not_accepted};
  return {std::move(*device.value()), {}, {}};
}
}  // namespace

json TrustService::nonce(const secure_link::NonceRequest& request) {
  auto enrolled = enrolled_device(registry_, request.device);
  if (!enrolled.device) return refuse(enrolled.why, enrolled.answer);
  const DeviceRecord& d = *enrolled.device;
  secure_link::NonceResponse response;
  response.nonce = secure_link::random_generator().bytes(secure_link::kNonceSize);
  response.expires = now_ms() + options_.nonce_lifetime;
  if (auto stored = registry_.add_nonce(response.nonce, d.id, response.expires,
                                        options_.max_outstanding_nonces);
      !stored)
    return refuse(refusal(TrustRefusal::unavailable, stored.error().describe()));
  if (d.backend == config::IdentityBackend::tpm && !d.activated) {
    // Until this TPM has shown that the enrolled AK lives beside the certified EK, the nonce
    // travels only inside a credential for that pair (TPM 2.0 Part 1 §24): without it, no quote.
    auto ak = secure_link::parse_tpm_public(d.ak_tpm_public);
    if (!ak) return refuse(refusal(TrustRefusal::unavailable, ak.error().describe()));
    auto credential = secure_link::make_credential(d.ek_public, ak.value().name, response.nonce);
    if (!credential) return refuse(refusal(TrustRefusal::unavailable, credential.error().describe()));
    response.credential = std::move(credential).value();
    ++counters_.credentials;
  }
  ++counters_.nonces;
  return secure_link::to_json(response);
}

json TrustService::attest(const secure_link::AttestRequest& request) {
  const auto& device_id = request.device;
  auto enrolled = enrolled_device(registry_, device_id);
  if (!enrolled.device) return refuse(enrolled.why, enrolled.answer);
  const DeviceRecord& d = *enrolled.device;

  // Who is asking, first: until the enrolled attestation key has signed this quote, the request
  // may come from anyone, and nothing of it is written (no nonce spent, no audit row).
  if (auto signed_ok = secure_link::verify_attestation_signature(request.quote.attest,
                                                                 request.quote.signature, d.ak_public_der);
      !signed_ok)
    return refuse(refusal(TrustRefusal::bad_signature, "the quote is not signed by the enrolled "
                                                       "attestation key of " + device_id + ": " +
                                                       signed_ok.error().message));

  // The nonce is spent before the evidence is judged, so a refused quote cannot be retried
  // with the same nonce either.
  const auto now = now_ms();
  auto check = registry_.consume_nonce(request.nonce, device_id, now);
  if (!check) return refuse(refusal(TrustRefusal::unavailable, check.error().describe()));
  switch (check.value()) {
    case NonceCheck::ok: break;
    case NonceCheck::unknown:
      return refuse_authenticated(device_id, refusal(TrustRefusal::bad_nonce, "the nonce was not issued by this service"));
    case NonceCheck::already_used:
      return refuse_authenticated(device_id, refusal(TrustRefusal::bad_nonce, "the nonce was already used (a replay?)"));
    case NonceCheck::expired:
      return refuse_authenticated(device_id, refusal(TrustRefusal::bad_nonce, "the nonce expired before the quote arrived"));
    case NonceCheck::other_device:
      return refuse_authenticated(device_id, refusal(TrustRefusal::bad_nonce, "the nonce was issued to another device"));
  }

  auto policy = registry_.policy();
  if (!policy) return refuse(refusal(TrustRefusal::unavailable, policy.error().describe()));
  Evidence evidence{request.nonce, request.quote, request.event_log};
  auto quote = verify_signed_evidence(d, policy.value(), evidence);  // signature checked above
  if (!quote) {
    // A log refused for what it measured did reproduce the quote: the fleet view shows what the
    // device runs, even though it may not.
    const bool log_verified = refusal_of(quote.error()) == TrustRefusal::measurement_refused;
    return refuse_authenticated(device_id, quote.error(),
                                log_verified ? what_runs(request.event_log) : std::map<std::string, std::string>{});
  }
  if (d.backend == config::IdentityBackend::tpm && !d.activated) {
    // A quote over a nonce that only a credential carried: the AK is in the EK's TPM.
    if (auto marked = registry_.mark_activated(device_id, now); !marked)
      return refuse(refusal(TrustRefusal::unavailable, marked.error().describe()));
    ++counters_.activations;
    log::info(kLog, device_id + ": credential activated — its attestation key is in the TPM "
                                "certified by " + d.ek_issuer);
  }

  std::chrono::seconds lifetime = policy.value().max_lifetime;
  if (request.lifetime)
    lifetime = std::clamp(*request.lifetime, std::chrono::seconds{1}, policy.value().max_lifetime);
  const auto backdate = std::min<std::chrono::milliseconds>(kMaxBackdate, lifetime / 10);
  CertificateRequest cr{device_id, d.tls_public_der, now - backdate, now + lifetime,
                        d.backend == config::IdentityBackend::software};
  secure_link::AttestResponse response;
  if (d.backend == config::IdentityBackend::tpm) {
    // The TLS key signs only in a state this key approved: the one the quote just showed.
    auto approval = approver_.approve(policy.value().pcr, quote.value().pcr_digest, device_id);
    if (!approval) return refuse(refusal(TrustRefusal::unavailable, approval.error().describe()));
    response.approval = std::move(approval).value();
  }
  auto issued = ca_.issue(cr);
  if (!issued) return refuse(refusal(TrustRefusal::unavailable, issued.error().describe()));
  if (auto recorded = registry_.add_certificate({issued.value().serial, device_id, cr.not_before, cr.not_after});
      !recorded)
    return refuse(refusal(TrustRefusal::unavailable, recorded.error().describe()));
  if (auto recorded = registry_.record_attestation({device_id, now, "ok", what_runs(request.event_log)});
      !recorded)
    log::error(kLog, recorded.error().describe());
  ++counters_.certificates;
  log::info(kLog, device_id + ": attested, certificate " + issued.value().serial + " until " +
                      format_rfc3339(cr.not_after));
  response.certificate_pem = issued.value().pem;
  response.ca_pem = ca_.certificate_pem();
  response.serial = issued.value().serial;
  auto out = secure_link::to_json(response);
  // Whole seconds: the certificate's validity has second resolution.
  out["not_before"] = format_rfc3339(std::chrono::floor<std::chrono::seconds>(cr.not_before));
  out["not_after"] = format_rfc3339(std::chrono::floor<std::chrono::seconds>(cr.not_after));
  return out;
}

// ───────────────────────────── CrlPublisher ─────────────────────────────

CrlPublisher::CrlPublisher(Registry& registry, CertificateAuthority& ca, CrlOptions options)
    : registry_(registry), ca_(ca), options_(std::move(options)),
      thread_(options_.check_interval, [this] { check(); }) {}

CrlPublisher::~CrlPublisher() { stop(); }

result<void> CrlPublisher::publish() {
  const auto now = now_ms();
  // The epoch is read first: a revocation racing with this publication bumps it again, and the
  // next check publishes once more.
  BOOST_OUTCOME_TRY(epoch, registry_.revocation_epoch());
  BOOST_OUTCOME_TRY(revoked, registry_.revoked_certificates(now));
  std::vector<RevokedEntry> entries;
  for (const auto& r : revoked) entries.push_back({r.certificate.serial, r.revoked});
  BOOST_OUTCOME_TRY(number, registry_.next_crl_number());
  const auto next_update = now + options_.validity;
  BOOST_OUTCOME_TRY(pem, ca_.crl(entries, now, next_update, number));
  BOOST_OUTCOME_TRY(secure_link::write_file_atomically(options_.file, pem, 0644));
  if (!options_.revoked_devices_file.empty()) {
    BOOST_OUTCOME_TRY(devices, registry_.devices());
    std::string ids;
    for (const auto& d : devices)
      if (d.revoked) ids += d.id + "\n";  // ids are valid_device_id(): no newline, no space
    BOOST_OUTCOME_TRY(secure_link::write_file_atomically(options_.revoked_devices_file, ids, 0644));
  }
  // Every replica and `guardian-trust list` can see how long the broker's CRL is good for.
  if (auto noted = registry_.note_crl({number, now, next_update, options_.file.string()}); !noted)
    log::warn(kLog, "CRL " + std::to_string(number) + " written but not noted: " + noted.error().describe());
  ++publications_;
  {
    std::lock_guard lock(mutex_);
    published_epoch_ = epoch;
    published_at_ = steady_clock::now();
  }
  log::info(kLog, "CRL " + std::to_string(number) + " written to " + options_.file.string() + " (" +
                      std::to_string(entries.size()) + " revoked certificate(s))");
  if (!options_.on_update.empty()) {
    // The broker reads the CRL only when it (re)loads its listeners: the operator's command
    // makes it do so (docs/secure-link.md "Revocation").
    pid_t pid = 0;
    const char* argv[] = {"/bin/sh", "-c", options_.on_update.c_str(), nullptr};
    if (::posix_spawn(&pid, "/bin/sh", nullptr, nullptr, const_cast<char**>(argv), environ) != 0)
      return make_errno_error(errno, "cannot run the CRL update command");
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
      return make_error("the CRL update command \"" + options_.on_update + "\" failed (status " +
                        std::to_string(status) + ")");
  }
  return outcome::success();
}

void CrlPublisher::start() { thread_.start(); }

void CrlPublisher::stop() { thread_.stop(); }

void CrlPublisher::check() {
  auto epoch = registry_.revocation_epoch();
  bool due = false;
  {
    std::lock_guard lock(mutex_);
    due = epoch && (epoch.value() != published_epoch_ ||
                    steady_clock::now() - published_at_ >= options_.refresh);
  }
  if (due) {
    if (auto done = publish(); !done) log::error(kLog, "CRL not published: " + done.error().describe());
  } else if (!epoch) {
    log::error(kLog, epoch.error().describe());
  }
}

RegistryPurge::RegistryPurge(Registry& registry, std::chrono::milliseconds audit_retention,
                             std::chrono::milliseconds interval)
    : thread_(interval, [&registry, audit_retention] {
        auto purged = registry.purge(now_ms(), audit_retention);
        if (!purged)
          log::error(kLog, "registry purge failed: " + purged.error().describe());
        else if (purged.value().nonces + purged.value().audit_rows > 0)
          log::debug(kLog, "purged " + std::to_string(purged.value().nonces) + " nonce(s), " +
                               std::to_string(purged.value().audit_rows) + " audit row(s)");
      }) {}

}  // namespace guardian::cloud
